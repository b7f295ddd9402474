// Reading files for the loaders and the clients: whole files, or one byte
// range of a file (ONNX external data) without reading the rest; and
// writing a whole file so that no reader sees half of it.
#ifndef CONVD_ENGINE_FILE_UTIL_H_
#define CONVD_ENGINE_FILE_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convd {

// NOT_FOUND when the file cannot be opened, DATA_LOSS when reading fails.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Bytes [offset, offset + length) of the file; length -1: to its end.
// INVALID_ARGUMENT when the range is not inside the file.
absl::StatusOr<std::string> ReadFileRange(const std::string& path, int64_t offset,
                                          int64_t length);

// Writes `contents` to `path`.tmp, then renames it to `path` (creating
// the parent directories), so a reader finds the old file or the new one,
// never a part. PERMISSION_DENIED naming the file when either step fails.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

}  // namespace convd

#endif  // CONVD_ENGINE_FILE_UTIL_H_
