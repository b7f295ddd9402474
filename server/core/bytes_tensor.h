// KServe BYTES tensors in raw form: each element as a 4-byte little-endian
// length and its bytes. The one writer and reader of that layout (responses,
// image inputs, the REST codec, classify).
#ifndef CONVD_SERVER_CORE_BYTES_TENSOR_H_
#define CONVD_SERVER_CORE_BYTES_TENSOR_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace convd {

void AppendBytesElement(std::string_view element, std::string& raw);
std::string SerializeBytesTensor(const std::vector<std::string>& elements);
// The elements of a BYTES tensor, as views into `raw`. On malformed data
// `elements` holds those before the fault and the INVALID_ARGUMENT names it
// ("BYTES element 2 claims 90 bytes; 12 remain").
absl::Status SplitBytesTensor(std::string_view raw, std::vector<std::string_view>& elements);

}  // namespace convd

#endif  // CONVD_SERVER_CORE_BYTES_TENSOR_H_
