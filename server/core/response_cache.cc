#include "server/core/response_cache.h"

#include <cstring>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace convd {
namespace {

absl::string_view Bytes(absl::Span<const float> values) {
  return absl::string_view(reinterpret_cast<const char*>(values.data()),
                           values.size() * sizeof(float));
}

}  // namespace

uint64_t ResponseCache::Hash(const Key& key) {
  return absl::HashOf(key.load_id, key.rows, key.classification_k, Bytes(key.input));
}

ResponseCache::Entries::iterator ResponseCache::FindLocked(const Key& key, uint64_t hash) {
  const absl::string_view input = Bytes(key.input);
  auto [first, last] = by_hash_.equal_range(hash);
  for (auto it = first; it != last; ++it) {
    const Entry& entry = *it->second;
    if (entry.load_id == key.load_id && entry.rows == key.rows &&
        entry.classification_k == key.classification_k && entry.input == input) {
      return it->second;
    }
  }
  return lru_.end();
}

void ResponseCache::EraseLocked(Entries::iterator entry) {
  auto [first, last] = by_hash_.equal_range(entry->hash);
  for (auto it = first; it != last; ++it) {
    if (it->second == entry) {
      by_hash_.erase(it);
      break;
    }
  }
  bytes_ -= entry->bytes;
  lru_.erase(entry);
}

std::optional<inference::ModelInferResponse> ResponseCache::Lookup(const Key& key) {
  const uint64_t hash = Hash(key);
  std::lock_guard<std::mutex> lock(mutex_);
  const Entries::iterator entry = FindLocked(key, hash);
  if (entry == lru_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, entry);
  return entry->response;
}

void ResponseCache::Insert(const Key& key, const inference::ModelInferResponse& response) {
  Entry entry;
  entry.hash = Hash(key);
  entry.load_id = key.load_id;
  entry.rows = key.rows;
  entry.classification_k = key.classification_k;
  entry.input = std::string(Bytes(key.input));
  entry.response = response;
  entry.response.clear_id();
  // What the entry holds; the bookkeeping around it is small beside it.
  entry.bytes =
      static_cast<int64_t>(entry.input.size() + entry.response.ByteSizeLong() + sizeof(Entry));
  if (entry.bytes > capacity_bytes_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (const Entries::iterator old = FindLocked(key, entry.hash); old != lru_.end()) {
    EraseLocked(old);
  }
  while (bytes_ + entry.bytes > capacity_bytes_ && !lru_.empty()) {
    EraseLocked(std::prev(lru_.end()));
  }
  bytes_ += entry.bytes;
  lru_.push_front(std::move(entry));
  by_hash_.emplace(lru_.front().hash, lru_.begin());
}

void ResponseCache::EraseLoad(uint64_t load_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto entry = lru_.begin(); entry != lru_.end();) {
    auto next = std::next(entry);
    if (entry->load_id == load_id) EraseLocked(entry);
    entry = next;
  }
}

int64_t ResponseCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

size_t ResponseCache::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}

}  // namespace convd
