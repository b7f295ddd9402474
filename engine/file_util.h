// Reading files for the loaders and the clients: whole files, or one byte
// range of a file (ONNX external data) without reading the rest.
#ifndef CONVD_ENGINE_FILE_UTIL_H_
#define CONVD_ENGINE_FILE_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace convd {

// NOT_FOUND when the file cannot be opened, DATA_LOSS when reading fails.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Bytes [offset, offset + length) of the file; length -1: to its end.
// INVALID_ARGUMENT when the range is not inside the file.
absl::StatusOr<std::string> ReadFileRange(const std::string& path, int64_t offset,
                                          int64_t length);

}  // namespace convd

#endif  // CONVD_ENGINE_FILE_UTIL_H_
