// Triton's response cache: finished inference responses kept by what
// determined them (the model load, the rows of input values, and the
// output asked for), so that a request repeating an earlier one is
// answered without queueing or running. One cache, least recently used
// first out, within a byte budget (--cache-config local,size=N), shared by
// every model whose config enables it (`response_cache { enable: true }`).
//
// A hit is exact: entries are found by a hash and then compared value for
// value, so two inputs that collide never share a response.
//
// Thread safety: every method may be called concurrently.
#ifndef CONVD_SERVER_CORE_RESPONSE_CACHE_H_
#define CONVD_SERVER_CORE_RESPONSE_CACHE_H_

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/types/span.h"
#include "proto/inference.pb.h"

namespace convd {

class ResponseCache {
 public:
  // What a response depends on.
  struct Key {
    uint64_t load_id = 0;  // ServedModel::load_id(): a reload is a new model
    int rows = 0;
    int classification_k = 0;       // 0: the raw output tensor
    absl::Span<const float> input;  // rows x the input row's values, as the model gets them
  };

  explicit ResponseCache(int64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  // The response kept for `key` (with no id), which becomes the most
  // recently used; nullopt on a miss.
  std::optional<inference::ModelInferResponse> Lookup(const Key& key);
  // Keeps `response` (its id cleared) for `key`, in place of any kept for
  // it, evicting the least recently used entries to stay within the
  // budget; one larger than the whole budget is not kept.
  void Insert(const Key& key, const inference::ModelInferResponse& response);

  // Drops every entry of one model load (one unloaded or replaced: none
  // of them can be asked for again), returning their bytes to the budget.
  void EraseLoad(uint64_t load_id);

  int64_t capacity_bytes() const { return capacity_bytes_; }
  int64_t bytes() const;  // held now: inputs and responses
  size_t entries() const;

 private:
  struct Entry {
    uint64_t hash = 0;
    uint64_t load_id = 0;
    int rows = 0;
    int classification_k = 0;
    std::string input;  // the key's floats, for the exact comparison
    inference::ModelInferResponse response;
    int64_t bytes = 0;
  };
  using Entries = std::list<Entry>;  // most recently used first

  static uint64_t Hash(const Key& key);
  // The entry for `key` among those with its hash, or lru_.end().
  Entries::iterator FindLocked(const Key& key, uint64_t hash);
  void EraseLocked(Entries::iterator entry);

  const int64_t capacity_bytes_;
  mutable std::mutex mutex_;
  // Guarded by mutex_:
  Entries lru_;
  std::unordered_multimap<uint64_t, Entries::iterator> by_hash_;
  int64_t bytes_ = 0;
};

}  // namespace convd

#endif  // CONVD_SERVER_CORE_RESPONSE_CACHE_H_
