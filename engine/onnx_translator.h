// The ONNX importer's translator (engine/onnx_loader.h), shared by its two
// source files: onnx_loader.cc (graph walk, inputs, simple operators) and
// onnx_ops.cc (operators with weights or folding). Internal to engine.
#ifndef CONVD_ENGINE_ONNX_TRANSLATOR_H_
#define CONVD_ENGINE_ONNX_TRANSLATOR_H_

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "engine/onnx_loader.h"
#include "engine/safetensors.h"
#include "onnx/onnx_pb.h"
#include "proto/network.pb.h"

namespace convd::onnx_import {

// One ONNX graph being translated into a NetworkDef plus weights.
class Translator {
 public:
  Translator(const onnx::ModelProto& model, int64_t opset, const OnnxImportOptions& options)
      : model_(model), opset_(opset), options_(options) {}

  absl::StatusOr<Graph> Run();

 private:
  absl::Status Fail(const onnx::NodeProto& node, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat("node '", node.name(), "' (", node.op_type(),
                                                   ", opset ", opset_, "): ", what));
  }
  absl::Status Unsupported(const onnx::NodeProto& node, const std::string& what) const {
    return absl::UnimplementedError(absl::StrCat("node '", node.name(), "' (", node.op_type(),
                                                 ", opset ", opset_, "): ", what));
  }

  absl::Status ReadInitializers();
  absl::Status ReadInput();
  absl::Status Translate(const onnx::NodeProto& node);

  // The layer producing ONNX value `value`; fails for constants.
  absl::StatusOr<std::string> LayerOf(const onnx::NodeProto& node, const std::string& value) const;
  bool IsConstant(const std::string& value) const { return constants_.contains(value); }
  absl::StatusOr<const NamedTensor*> Constant(const onnx::NodeProto& node, int input) const;
  // Adds a layer reading `inputs` (ONNX values) and producing node.output(0).
  absl::StatusOr<LayerDef*> AddLayer(const onnx::NodeProto& node,
                                     const std::vector<std::string>& inputs);
  // Input value of a Conv/pool with any folded Pad node removed; adds its pads.
  std::string Unpadded(const std::string& value, std::vector<int64_t>& pads) const;
  // The ONNX rank of `value` (the data input's, carried through the layers).
  int RankOf(const std::string& value) const;
  // convd's per-sample shape of ONNX value `value`, from the network so far.
  absl::StatusOr<TensorShape> ShapeOf(const onnx::NodeProto& node, const std::string& value);

  // A Conv's or pool's window as convd runs it: 2-D, explicit pads (top,
  // left, bottom, right) with auto_pad and any folded Pad applied.
  struct Window {
    std::string input;  // the ONNX value read, after Pad folding
    std::vector<int64_t> kernel, strides, dilations, pads;
    bool own_pads = false;     // the node's pads or auto_pad add padding
    bool folded_pad = false;   // an explicit Pad node (zeros) was folded in
  };
  absl::StatusOr<Window> ReadWindow(const onnx::NodeProto& node, std::vector<int64_t> kernel);

  absl::Status Conv(const onnx::NodeProto& node);
  absl::Status Pool(const onnx::NodeProto& node, bool max, bool global);
  // Whether ONNX value `value` is produced by a layer whose outputs are >= 0.
  bool NonNegative(const std::string& value) const;
  absl::Status Gemm(const onnx::NodeProto& node, bool matmul);
  absl::Status AddOrMul(const onnx::NodeProto& node, bool add);
  absl::Status Clip(const onnx::NodeProto& node);
  absl::Status Pad(const onnx::NodeProto& node);
  absl::Status Reshape(const onnx::NodeProto& node);
  absl::Status BatchNorm(const onnx::NodeProto& node);

  const onnx::ModelProto& model_;
  const int64_t opset_;
  const OnnxImportOptions options_;
  NetworkDef def_;
  TensorMap weights_;
  std::map<std::string, NamedTensor> constants_;          // float initializers and Constant outputs
  std::map<std::string, std::vector<int64_t>> integers_;  // int64 ones (shapes, pads)
  std::map<std::string, std::string> layer_of_;           // ONNX value -> layer name
  std::map<std::string, int> consumers_;                  // ONNX value -> nodes reading it
  std::map<std::string, int> rank_of_;                    // ONNX value -> its rank
  struct Padding {
    std::string source;
    std::vector<int64_t> pads;  // top, left, bottom, right
  };
  std::map<std::string, Padding> padded_;  // output of a folded Pad node
  std::set<std::string> layer_names_;
  // Softmax layers (opset < 13) that match convd only when H = W = 1.
  std::vector<std::string> flat_softmax_layers_;
};

}  // namespace convd::onnx_import

#endif  // CONVD_ENGINE_ONNX_TRANSLATOR_H_
