#include "engine/file_util.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace convd {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  return ReadFileRange(path, 0, -1);
}

absl::StatusOr<std::string> ReadFileRange(const std::string& path, int64_t offset,
                                          int64_t length) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  const int64_t size = static_cast<int64_t>(file.tellg());
  if (size < 0) return absl::DataLossError(absl::StrCat("cannot read ", path));
  if (length < 0) length = size - offset;
  if (offset < 0 || offset > size || length < 0 || length > size - offset) {
    return absl::InvalidArgumentError(absl::StrCat("byte range [", offset, ", +", length,
                                                   ") is outside ", path, " (", size,
                                                   " bytes)"));
  }
  std::string data(static_cast<size_t>(length), '\0');
  file.seekg(offset);
  if (!file.read(data.data(), length)) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  return data;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  std::error_code error;
  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), error);
  const std::string temporary = absl::StrCat(path, ".tmp");
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    file.close();
    if (!file) return absl::PermissionDeniedError(absl::StrCat("cannot write ", temporary));
  }
  std::filesystem::rename(temporary, target, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    return absl::PermissionDeniedError(
        absl::StrCat("cannot replace ", path, ": ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace convd
