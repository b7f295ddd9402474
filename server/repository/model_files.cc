#include "server/repository/model_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "engine/model_config.h"

namespace convd {
namespace {

namespace fs = std::filesystem;

std::chrono::system_clock::time_point TimePoint(const struct timespec& time) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(time.tv_sec) + std::chrono::nanoseconds(time.tv_nsec)));
}

// A directory's own times change with its entries, which are listed
// themselves; so a directory is recorded by its name alone (its status
// change still counts towards `last_change`).
std::string Describe(const fs::path& path, std::chrono::system_clock::time_point& last_change) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return "unreadable";
  last_change = std::max(last_change, TimePoint(info.st_ctim));
  if (S_ISDIR(info.st_mode)) return "dir";
  return absl::StrCat(info.st_size, " ", info.st_mtim.tv_sec, ".", info.st_mtim.tv_nsec, " ",
                      info.st_ctim.tv_sec, ".", info.st_ctim.tv_nsec, " ", info.st_ino);
}

}  // namespace

ModelFiles ScanModelFiles(const std::string& model_dir) {
  ModelFiles files;
  files.scanned_at = std::chrono::system_clock::now();
  // Sorted by path, so that the listing order of the file system does not
  // count as a change.
  std::map<std::string, std::string> shared;
  std::map<int64_t, std::map<std::string, std::string>> versions;
  std::error_code error;
  fs::recursive_directory_iterator it(model_dir, fs::directory_options::follow_directory_symlink,
                                      error);
  int entries = 0;
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (++entries > ModelFiles::kMaxEntries) {
      shared["\n"] = absl::StrCat("listing stopped after ", ModelFiles::kMaxEntries, " entries");
      break;
    }
    if (it.depth() + 1 >= ModelFiles::kMaxDepth) it.disable_recursion_pending();
    const fs::path relative = it->path().lexically_relative(model_dir);
    const std::string top = relative.begin()->string();
    absl::StatusOr<int64_t> version = ParseVersion(top);
    std::error_code ignored;
    const bool in_version_folder =
        version.ok() && fs::is_directory(fs::path(model_dir) / top, ignored);
    auto& lines = in_version_folder ? versions[*version] : shared;
    lines[relative.string()] = Describe(it->path(), files.last_change);
  }
  if (error) shared["\n"] = absl::StrCat("listing stopped: ", error.message());

  for (const auto& [path, description] : shared) {
    absl::StrAppend(&files.shared, path, "\t", description, "\n");
  }
  for (const auto& [version, lines] : versions) {
    std::string& text = files.versions[version];
    for (const auto& [path, description] : lines) {
      absl::StrAppend(&text, path, "\t", description, "\n");
    }
  }
  return files;
}

}  // namespace convd
