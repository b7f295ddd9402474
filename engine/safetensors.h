// The safetensors format (https://huggingface.co/docs/safetensors): an
// 8-byte little-endian header length, a JSON header mapping tensor names to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// end of the header), then raw little-endian data. convd reads F32 tensors;
// other dtypes are reported by name when a model needs them.
#ifndef CONVD_ENGINE_SAFETENSORS_H_
#define CONVD_ENGINE_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace convd {

struct NamedTensor {
  std::string dtype;  // "F32", or the other dtype as written in the file
  std::vector<int64_t> shape;
  std::vector<float> values;  // filled for F32 only
};

using TensorMap = std::map<std::string, NamedTensor>;

// Validates the whole file: header length, JSON, dtypes, shapes against byte
// ranges, ranges inside the data and not overlapping.
absl::StatusOr<TensorMap> ParseSafetensors(std::string_view bytes);

// Writes F32 tensors (names sorted, data packed in that order).
std::string SerializeSafetensors(const TensorMap& tensors);

}  // namespace convd

#endif  // CONVD_ENGINE_SAFETENSORS_H_
