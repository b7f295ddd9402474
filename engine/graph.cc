#include "engine/graph.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace convd {

const char* LayerKindName(LayerKind kind) {
  switch (kind) {
    case LayerKind::kInput: return "input";
    case LayerKind::kConvolution: return "convolution";
    case LayerKind::kPooling: return "pooling";
    case LayerKind::kLrn: return "lrn";
    case LayerKind::kFullyConnected: return "fully_connected";
    case LayerKind::kActivation: return "activation";
    case LayerKind::kDropout: return "dropout";
    case LayerKind::kFlatten: return "flatten";
    case LayerKind::kSoftmax: return "softmax";
    case LayerKind::kAdd: return "add";
    case LayerKind::kConcat: return "concat";
    case LayerKind::kBatchNorm: return "batch_norm";
  }
  return "unknown";
}

int Graph::Find(const std::string& layer_name) const {
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].name == layer_name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<int> Graph::AllInputs(const Layer& layer) {
  std::vector<int> all = layer.inputs;
  if (layer.residual_input >= 0) all.push_back(layer.residual_input);
  return all;
}

std::vector<std::vector<int>> Graph::Consumers() const {
  std::vector<std::vector<int>> consumers(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    for (int input : AllInputs(layers[i])) consumers[input].push_back(static_cast<int>(i));
  }
  return consumers;
}

ConvParams ConvParamsFor(const Graph& graph, const Layer& layer, int batch) {
  const TensorShape& in = graph.layers[layer.inputs[0]].output;
  ConvParams p = layer.conv.geometry;
  p.n = batch, p.c = in.c, p.h = in.h, p.w = in.w;
  p.p = layer.output.h, p.q = layer.output.w;
  return p;
}

PoolParams PoolParamsFor(const Graph& graph, const Layer& layer, int batch) {
  const TensorShape& in = graph.layers[layer.inputs[0]].output;
  PoolParams p = layer.pool.geometry;
  p.n = batch, p.c = in.c, p.h = in.h, p.w = in.w;
  if (layer.pool.global) p.kernel_h = in.h, p.kernel_w = in.w;
  p.p = layer.output.h, p.q = layer.output.w;
  return p;
}

FullyConnectedParams FullyConnectedParamsFor(const Graph& graph, const Layer& layer,
                                             int batch) {
  return {batch,
          static_cast<int>(graph.layers[layer.inputs[0]].output.per_sample()),
          layer.fc.num_output};
}

std::vector<ParameterSpec> ParameterSpecs(const Graph& graph, const Layer& layer) {
  std::vector<ParameterSpec> specs;
  switch (layer.kind) {
    case LayerKind::kConvolution: {
      const ConvParams p = ConvParamsFor(graph, layer, 1);
      specs.push_back({"weight", {p.k, p.c_per_group(), p.r, p.s}, &Layer::weight});
      if (layer.conv.bias) specs.push_back({"bias", {p.k}, &Layer::bias});
      break;
    }
    case LayerKind::kFullyConnected: {
      const FullyConnectedParams p = FullyConnectedParamsFor(graph, layer, 1);
      specs.push_back({"weight", {p.out_features, p.in_features}, &Layer::weight});
      if (layer.fc.bias) specs.push_back({"bias", {p.out_features}, &Layer::bias});
      break;
    }
    case LayerKind::kBatchNorm: {
      const int64_t c = layer.output.c;
      specs.push_back({"weight", {c}, &Layer::weight});
      specs.push_back({"bias", {c}, &Layer::bias});
      specs.push_back({"running_mean", {c}, &Layer::running_mean});
      specs.push_back({"running_var", {c}, &Layer::running_var});
      break;
    }
    default:
      break;
  }
  return specs;
}

namespace {

absl::Status LayerError(const Layer& layer, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(
      "layer '", layer.name, "' (", LayerKindName(layer.kind), "): ", message));
}

absl::Status InferLayerShape(const Graph& graph, Layer& layer) {
  const int expected_inputs =
      layer.kind == LayerKind::kAdd || layer.kind == LayerKind::kConcat ? -1 : 1;
  if (expected_inputs == 1 && layer.inputs.size() != 1) {
    return LayerError(layer, absl::StrFormat("takes exactly 1 input; got %d",
                                             layer.inputs.size()));
  }
  if (expected_inputs == -1 && layer.inputs.size() < 2) {
    return LayerError(layer, absl::StrFormat("takes 2 or more inputs; got %d",
                                             layer.inputs.size()));
  }
  const TensorShape& in = graph.layers[layer.inputs[0]].output;
  switch (layer.kind) {
    case LayerKind::kInput:
      return LayerError(layer, "only the first layer may be the input");
    case LayerKind::kConvolution: {
      if (layer.conv.geometry.k <= 0) {
        return LayerError(layer, absl::StrFormat("num_output must be positive; got %d",
                                                 layer.conv.geometry.k));
      }
      ConvParams p = ConvParamsFor(graph, layer, 1);
      if (absl::Status status = ComputeConvOutput(p); !status.ok()) {
        return LayerError(layer, absl::StrCat(status.message(), " (input ",
                                              in.ToString(), ")"));
      }
      layer.output = {1, p.k, p.p, p.q};
      return absl::OkStatus();
    }
    case LayerKind::kPooling: {
      PoolParams p = PoolParamsFor(graph, layer, 1);
      if (absl::Status status = ComputePoolOutput(p); !status.ok()) {
        return LayerError(layer, absl::StrCat(status.message(), " (input ",
                                              in.ToString(), ")"));
      }
      layer.output = {1, in.c, p.p, p.q};
      return absl::OkStatus();
    }
    case LayerKind::kLrn:
      if (layer.lrn.size <= 0) {
        return LayerError(layer, absl::StrFormat("size must be positive; got %d",
                                                 layer.lrn.size));
      }
      layer.output = in;
      return absl::OkStatus();
    case LayerKind::kFullyConnected:
      if (layer.fc.num_output <= 0) {
        return LayerError(layer, absl::StrFormat("num_output must be positive; got %d",
                                                 layer.fc.num_output));
      }
      layer.output = {1, layer.fc.num_output, 1, 1};
      return absl::OkStatus();
    case LayerKind::kFlatten:
      layer.output = {1, static_cast<int>(in.per_sample()), 1, 1};
      return absl::OkStatus();
    case LayerKind::kActivation:
    case LayerKind::kDropout:
    case LayerKind::kSoftmax:
    case LayerKind::kBatchNorm:
      layer.output = in;
      return absl::OkStatus();
    case LayerKind::kAdd:
      for (int input : layer.inputs) {
        const Layer& other = graph.layers[input];
        if (!(other.output == in)) {
          return LayerError(layer, absl::StrCat(
              "inputs must have equal shapes; '", graph.layers[layer.inputs[0]].name,
              "' is ", in.ToString(), " but '", other.name, "' is ",
              other.output.ToString()));
        }
      }
      layer.output = in;
      return absl::OkStatus();
    case LayerKind::kConcat: {
      int channels = 0;
      for (int input : layer.inputs) {
        const Layer& other = graph.layers[input];
        if (other.output.h != in.h || other.output.w != in.w) {
          return LayerError(layer, absl::StrCat(
              "inputs must have equal height and width; '",
              graph.layers[layer.inputs[0]].name, "' is ", in.ToString(), " but '",
              other.name, "' is ", other.output.ToString()));
        }
        channels += other.output.c;
      }
      layer.output = {1, channels, in.h, in.w};
      return absl::OkStatus();
    }
  }
  return LayerError(layer, "unknown layer kind");
}

}  // namespace

absl::Status InferShapes(Graph& graph) {
  if (graph.layers.empty() || graph.layers[0].kind != LayerKind::kInput) {
    return absl::InvalidArgumentError("graph must start with its input");
  }
  const TensorShape& in = graph.layers[0].output;
  if (in.c <= 0 || in.h <= 0 || in.w <= 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "input '%s' needs positive channels, height and width; got %dx%dx%d",
        graph.layers[0].name, in.c, in.h, in.w));
  }
  if (graph.layers.size() < 2) {
    return absl::InvalidArgumentError("graph has no layers besides its input");
  }
  for (size_t i = 1; i < graph.layers.size(); ++i) {
    Layer& layer = graph.layers[i];
    for (int input : Graph::AllInputs(layer)) {
      if (input < 0 || input >= static_cast<int>(i)) {
        return LayerError(layer, absl::StrFormat(
            "input index %d does not refer to an earlier layer", input));
      }
    }
    if (absl::Status status = InferLayerShape(graph, layer); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace convd
