// Helpers of the ONNX importer (engine/onnx_loader.h): tensor decoding
// (raw_data, typed fields, external data confined to the model directory)
// and node attribute access with ONNX's defaults.
#ifndef CONVD_ENGINE_ONNX_TENSORS_H_
#define CONVD_ENGINE_ONNX_TENSORS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/safetensors.h"
#include "onnx/onnx_pb.h"

namespace convd::onnx_import {

// A FLOAT (or DOUBLE, narrowed) tensor. External data is read from
// `model_directory` (empty: refused) and may not leave it.
absl::StatusOr<NamedTensor> DecodeFloatTensor(const onnx::TensorProto& tensor,
                                              const std::string& model_directory);
// A small INT64 tensor (shapes, pads): at most 64 values.
absl::StatusOr<std::vector<int64_t>> DecodeInt64Tensor(const onnx::TensorProto& tensor);

const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, const std::string& name);
int64_t IntAttribute(const onnx::NodeProto& node, const std::string& name, int64_t fallback);
float FloatAttribute(const onnx::NodeProto& node, const std::string& name, float fallback);
std::vector<int64_t> IntsAttribute(const onnx::NodeProto& node, const std::string& name);
std::string StringAttribute(const onnx::NodeProto& node, const std::string& name,
                            const std::string& fallback);
// The product of `shape`: -1 if a dimension is negative; saturates at
// INT64_MAX instead of overflowing.
int64_t Elements(const std::vector<int64_t>& shape);

}  // namespace convd::onnx_import

#endif  // CONVD_ENGINE_ONNX_TENSORS_H_
