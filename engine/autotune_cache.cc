#include "engine/autotune_cache.h"

#include <cstdio>
#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/file_util.h"

namespace convd {
namespace {

// Tabs and newlines would break the line format; device names have none.
bool Clean(const std::string& field) { return field.find_first_of("\t\n\r") == std::string::npos; }

}  // namespace

AutotuneCache::AutotuneCache(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  std::ifstream file(path_);
  for (std::string line; std::getline(file, line);) {
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    int batch = 0;
    if (fields.size() != 6 || !absl::SimpleAtoi(fields[4], &batch) || batch < 1 ||
        fields[5].empty()) {
      continue;
    }
    decisions_[Key{fields[0], fields[1], fields[2], fields[3], batch}] = fields[5];
  }
}

std::optional<std::string> AutotuneCache::Find(const Key& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = decisions_.find(key);
  if (it == decisions_.end()) return std::nullopt;
  return it->second;
}

size_t AutotuneCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return decisions_.size();
}

absl::Status AutotuneCache::Store(const Key& key, const std::string& algorithm) {
  if (!Clean(key.device) || !Clean(key.driver) || !Clean(key.kernels) || !Clean(key.shape) ||
      !Clean(algorithm) || algorithm.empty() || key.batch < 1) {
    return absl::InvalidArgumentError("autotune cache: fields must be non-empty single lines");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  decisions_[key] = algorithm;
  return WriteLocked();
}

absl::Status AutotuneCache::WriteLocked() const {
  if (path_.empty()) return absl::OkStatus();
  std::string lines;
  for (const auto& [key, algorithm] : decisions_) {
    absl::StrAppend(&lines, key.device, "\t", key.driver, "\t", key.kernels, "\t", key.shape, "\t",
                    key.batch, "\t", algorithm, "\n");
  }
  return WriteFileAtomically(path_, lines);
}

}  // namespace convd
