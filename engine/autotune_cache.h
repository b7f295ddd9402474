// Autotuning decisions kept across loads and restarts: which algorithm won
// for a layer shape at a batch size on a device (name and driver) with a
// build of the kernels, so a model loads without re-timing what was timed
// before. A convd whose kernels changed finds none of an older build's
// decisions and times its layers afresh: they were valid algorithms, but
// which is fastest is what changed.
//
// On disk it is a text file, one decision a line:
//   device <TAB> driver <TAB> kernels <TAB> shape <TAB> batch <TAB> algorithm
// read whole at Open and rewritten whole (to a temporary file, then renamed)
// on each Store, so a crash never leaves half a file. Malformed lines are
// skipped (a cache is never a reason to fail a load), as are the five-field
// lines of caches written before kernel revisions were part of the key.
// Other builds' decisions are kept: two convd versions may share one file.
//
// Thread safety: all methods may be called concurrently.
#ifndef CONVD_ENGINE_AUTOTUNE_CACHE_H_
#define CONVD_ENGINE_AUTOTUNE_CACHE_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "absl/status/status.h"

namespace convd {

class AutotuneCache {
 public:
  struct Key {
    std::string device;   // "NVIDIA H100 80GB HBM3 (sm_90)"
    std::string driver;   // "13000"
    std::string kernels;  // the kernels' build: "71e7d969bd6e1834/cuda13000"
    std::string shape;    // the layer's geometry, e.g. ConvParams::ToString()
    int batch = 1;
    bool operator<(const Key& other) const {
      return std::tie(device, driver, kernels, shape, batch) <
             std::tie(other.device, other.driver, other.kernels, other.shape, other.batch);
    }
  };

  // Reads `path` if it exists; an empty path keeps decisions in memory only.
  explicit AutotuneCache(std::string path);

  std::optional<std::string> Find(const Key& key) const;
  // Records a decision and rewrites the file; the error (e.g. a read-only
  // directory) leaves the in-memory decision in place.
  absl::Status Store(const Key& key, const std::string& algorithm);

  size_t size() const;

 private:
  absl::Status WriteLocked() const;

  const std::string path_;
  mutable std::mutex mutex_;
  std::map<Key, std::string> decisions_;
};

}  // namespace convd

#endif  // CONVD_ENGINE_AUTOTUNE_CACHE_H_
