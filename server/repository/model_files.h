// What a repository poll compares: a snapshot of a model directory's files,
// by stat alone (no file is read), split into the files every version
// shares (config.pbtxt, labels, warmup data, anything outside the numbered
// folders) and each numbered version folder's own.
//
// A file counts as changed when its size, modification time, status-change
// time or inode differs, so an edit in place, a copy that keeps the old
// modification time (cp -p) and a file swapped in by rename are all seen;
// so are files added or removed. Symbolic links are followed (Kubernetes
// mounts a ConfigMap as links into a folder it swaps), to a depth of
// kMaxDepth below the model directory, which also bounds a link cycle; and
// at most kMaxEntries are listed (a link to a large tree would otherwise
// be walked at every poll): past that the listing says it stopped, and
// changes beyond it go unseen.
//
// A snapshot is settled when no file's status changed within a settle time
// of it (kDefaultSettleTime unless the repository says otherwise). Only a
// settled one is worth acting on: a model being copied in is
// not loaded half-written, and since the kernel stamps times at a tick of
// a few milliseconds, a second write within the tick of a snapshot would
// go unseen by an unsettled one.
#ifndef CONVD_SERVER_REPOSITORY_MODEL_FILES_H_
#define CONVD_SERVER_REPOSITORY_MODEL_FILES_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace convd {

struct ModelFiles {
  static constexpr int kMaxDepth = 8;
  static constexpr int kMaxEntries = 10000;
  static constexpr std::chrono::milliseconds kDefaultSettleTime{1000};

  // One line per file or folder outside the numbered folders, in path order.
  std::string shared;
  // Each numbered version folder (as ParseVersion reads its name): one line
  // per file or folder inside it.
  std::map<int64_t, std::string> versions;

  // When the snapshot was taken, and the latest status change (ctime: set
  // by the kernel on every write, rename or link, never by a copy that
  // restores times) of any file in it.
  std::chrono::system_clock::time_point scanned_at;
  std::chrono::system_clock::time_point last_change;

  // The same files, unchanged (the times above aside).
  bool SameFiles(const ModelFiles& other) const {
    return shared == other.shared && versions == other.versions;
  }
  // Nothing changed within `settle_time` of the snapshot (either side of
  // it: a change stamped in the future means the clock was set back).
  bool settled(std::chrono::milliseconds settle_time) const {
    const auto gap = scanned_at - last_change;
    return gap >= settle_time || gap <= -settle_time;
  }
};

// The snapshot of `model_dir` now; an unreadable entry is recorded as such,
// so that it becoming readable counts as a change.
ModelFiles ScanModelFiles(const std::string& model_dir);

}  // namespace convd

#endif  // CONVD_SERVER_REPOSITORY_MODEL_FILES_H_
