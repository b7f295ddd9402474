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

  absl::Status Conv(const onnx::NodeProto& node);
  absl::Status Pool(const onnx::NodeProto& node, bool max, bool global);
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
  struct Padding {
    std::string source;
    std::vector<int64_t> pads;  // top, left, bottom, right
  };
  std::map<std::string, Padding> padded_;  // output of a folded Pad node
  std::set<std::string> layer_names_;
  std::vector<std::pair<std::string, int>> softmax_checks_;  // layer, opset rule
};

}  // namespace convd::onnx_import

#endif  // CONVD_ENGINE_ONNX_TRANSLATOR_H_
