// The engine's graph: layers in topological order, each producing one
// tensor named after the layer. layers[0] is the network input. Shapes are
// per sample (n = 1); every activation is NCHW (a flattened vector is
// [features, 1, 1]).
//
// Built by a loader (network definition, ONNX), given shapes by InferShapes,
// parameters by AttachWeights (engine/weights.h), simplified by the passes in
// engine/graph_passes.h, then handed to the planner.
#ifndef CONVD_ENGINE_GRAPH_H_
#define CONVD_ENGINE_GRAPH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/tensor.h"
#include "kernels/op_params.h"

namespace convd {

enum class LayerKind {
  kInput,
  kConvolution,
  kPooling,
  kLrn,
  kFullyConnected,
  kActivation,
  kDropout,
  kFlatten,
  kSoftmax,
  kAdd,
  kConcat,
  kBatchNorm,
};
const char* LayerKindName(LayerKind kind);

// The definition's geometry is kept in the kernels' own problem type, so
// the window fields exist once; ConvParamsFor / PoolParamsFor fill in the
// sizes (batch, input, output) for a use.
struct ConvAttributes {
  ConvParams geometry;  // k, r, s, strides, pads, dilation, groups
  bool bias = true;
};

struct PoolAttributes {
  PoolParams geometry;  // method, kernel, strides, pads, ceil_mode, count_include_pad
  bool global = false;  // kernel = the whole input plane
};

struct LrnAttributes {
  int size = 5;
  float alpha = 1e-4f, beta = 0.75f, k = 1.0f;
};

struct FullyConnectedAttributes {
  int num_output = 0;
  bool bias = true;
};

struct Layer {
  std::string name;
  LayerKind kind = LayerKind::kInput;
  std::vector<int> inputs;  // indices of earlier layers

  // Attributes; only the one matching `kind` is meaningful.
  ConvAttributes conv;
  PoolAttributes pool;
  LrnAttributes lrn;
  FullyConnectedAttributes fc;
  ActivationFunction activation{Activation::kRelu};
  bool log_softmax = false;
  float batch_norm_eps = 1e-5f;

  TensorShape output;  // per sample; set by InferShapes

  // Parameters (float32, PyTorch layouts): convolution weight [K, C/g, R, S],
  // fully connected weight [out, in]; batch norm weight (scale), bias
  // (shift), running_mean, running_var.
  std::vector<float> weight, bias, running_mean, running_var;

  // Set by the fusion passes: applied in the producer's epilogue as
  // act(y + bias + residual).
  ActivationFunction fused_activation;
  int residual_input = -1;          // layer index, or -1
  std::vector<std::string> fused;   // names of layers merged into this one
  int64_t folded_params = 0;        // learned parameters of folded layers
};

class Graph {
 public:
  std::string name;
  std::vector<Layer> layers;
  // What the source model calls its output tensor (an ONNX graph's output,
  // a network definition's last layer): the name a config that leaves the
  // output out gets (engine/model_loader.h, AutoCompleteModelConfig).
  std::string output_name;

  const Layer& input() const { return layers.front(); }
  const Layer& output() const { return layers.back(); }
  // -1 if absent.
  int Find(const std::string& layer_name) const;
  // Data inputs plus the fused residual, if any.
  static std::vector<int> AllInputs(const Layer& layer);
  // consumers[i]: layers that read layer i's output.
  std::vector<std::vector<int>> Consumers() const;
};

// Computes every layer's per-sample output shape from the input's. Errors
// name the layer and the numbers, e.g. "layer 'conv2' (convolution): input
// channels (6) must be divisible by groups (4)".
absl::Status InferShapes(Graph& graph);

// Problem descriptions of one layer at batch `batch` (shapes inferred).
ConvParams ConvParamsFor(const Graph& graph, const Layer& layer, int batch);
PoolParams PoolParamsFor(const Graph& graph, const Layer& layer, int batch);
FullyConnectedParams FullyConnectedParamsFor(const Graph& graph, const Layer& layer, int batch);

// A named parameter a layer needs: "<layer>.<suffix>" with `shape`.
struct ParameterSpec {
  std::string suffix;  // "weight", "bias", "running_mean", "running_var"
  std::vector<int64_t> shape;
  std::vector<float> Layer::*member;
};
// The parameters a layer needs, given inferred shapes; the one place that
// knows parameter names and shapes (loaders, He init and stats use it).
std::vector<ParameterSpec> ParameterSpecs(const Graph& graph, const Layer& layer);

}  // namespace convd

#endif  // CONVD_ENGINE_GRAPH_H_
