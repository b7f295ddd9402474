// NumPy .npy files (format versions 1-3, C order, little-endian) as KServe
// tensors: the dtype maps to a datatype ("<f4" FP32, "|u1" UINT8, ...).
// What `convctl infer --input` reads and `--output` writes.
#ifndef CONVD_CLIENT_NPY_H_
#define CONVD_CLIENT_NPY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/inference.pb.h"

namespace convd::client {

struct NpyArray {
  std::string datatype;         // KServe datatype, e.g. "FP32"
  std::vector<int64_t> shape;   // () for a scalar
  std::string data;             // row-major, little-endian
};

// INVALID_ARGUMENT naming the problem for anything that is not a C-order,
// little-endian array of a supported numeric or bool dtype; NOT_FOUND when
// the file cannot be opened.
absl::StatusOr<NpyArray> ParseNpy(std::string_view bytes, const std::string& name);
absl::StatusOr<NpyArray> ReadNpy(const std::string& path);

std::string SerializeNpy(const NpyArray& array);
absl::Status WriteNpy(const std::string& path, const NpyArray& array);

// Appends `array` to `request` as the input `name`: its datatype and shape
// in the tensor, its bytes in raw_input_contents (which must hold one entry
// per input before it, as the protocol pairs them by position).
void AddInput(const std::string& name, NpyArray array, inference::ModelInferRequest& request);

}  // namespace convd::client

#endif  // CONVD_CLIENT_NPY_H_
