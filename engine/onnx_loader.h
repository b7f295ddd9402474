// ONNX models (model.onnx, as exported from PyTorch) into convd's network
// definition and weights, so they go through the same graph construction,
// shape inference, passes and planner as network.pbtxt models.
//
// Supported: the default domain at opsets 7 to 18, for the operators CNN
// classifiers use: Conv, MaxPool, AveragePool, GlobalAveragePool,
// GlobalMaxPool, Gemm, MatMul (+ a constant Add as its bias), Relu,
// LeakyRelu, Sigmoid, Tanh, Clip (as ReLU when min 0 and no max), Softmax,
// LogSoftmax, LRN, BatchNormalization, Flatten, Reshape (to [N, -1]),
// Dropout, Identity, Add, Concat (channels), Constant, Pad (zero padding
// folded into the next Conv or pool). Weights come from initializers
// (raw_data or typed fields, or external data files inside the model's
// directory). The first input dimension is the batch and may be symbolic.
//
// Anything else fails with an error naming the operator, the node and the
// opset. Malformed files (not ONNX, truncated, inconsistent) fail cleanly.
#ifndef CONVD_ENGINE_ONNX_LOADER_H_
#define CONVD_ENGINE_ONNX_LOADER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/graph.h"

namespace convd {

struct OnnxImportOptions {
  // Where external data files live; empty: external data is refused.
  std::string model_directory;
};

// Parses serialized ModelProto bytes into a graph with weights attached
// (no passes applied).
absl::StatusOr<Graph> ImportOnnx(std::string_view bytes, const OnnxImportOptions& options);

// Reads <version_dir>/model.onnx.
absl::StatusOr<Graph> LoadOnnxFile(const std::string& path);

}  // namespace convd

#endif  // CONVD_ENGINE_ONNX_LOADER_H_
