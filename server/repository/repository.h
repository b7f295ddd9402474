// The model repository: every directory under the root that holds a
// config.pbtxt, or (auto-completing configs) a version folder with a model
// file, is a model (IsModelDirectory); its numbered folders are versions,
// served as its version_policy says.
//
// Contract:
//  - Names and versions from clients are validated before they touch the
//    file system (engine/model_config.h: ValidateModelName, ParseVersion).
//  - A model that fails to load is recorded as UNAVAILABLE with its error
//    and does not affect the others; a failed reload keeps the versions
//    that were serving.
//  - Poll() follows the files (--model-control=poll, model_files.h): models
//    that appear are loaded, those whose files changed are reloaded, and
//    those that leave the root are unloaded and forgotten. A model whose
//    files changed within RepositoryOptions::files_settle_time waits for a later poll,
//    so a copy in progress is not loaded half-written. On a reload the
//    versions whose own files and shared files did not change keep
//    serving as they are (same instances, statistics and warm state). A
//    failed load is tried again only once the files change again.
//  - A model with GPU instances is UNAVAILABLE, with the fault as its
//    reason, once the GPU backend reports its device lost
//    (GpuBackend::health); models on the CPU serve on.
//  - Get() returns a shared reference: a request that holds it keeps its
//    model version alive (and its queue running) through an unload. The
//    last reference hands the model to the repository's own thread, which
//    drains and destroys it, so no request thread ever joins a scheduler.
//  - Every reference must be released before the repository is destroyed;
//    the destructor waits for that (30 s at most, then logs and leaves the
//    stragglers, so a leak never blocks process exit).
//
// Thread safety: all methods may be called concurrently; loads and unloads
// are serialised among themselves.
#ifndef CONVD_SERVER_REPOSITORY_REPOSITORY_H_
#define CONVD_SERVER_REPOSITORY_REPOSITORY_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model_loader.h"
#include "server/core/served_model.h"
#include "server/repository/model_files.h"

namespace convd {

// How the set of served models may change once convd has started
// (--model-control).
enum class ModelControl {
  kNone,      // what loaded at start serves until exit
  kExplicit,  // RepositoryModelLoad/Unload through the API
  kPoll,      // the repository's files are followed (ModelRepository::Poll)
};

struct RepositoryOptions {
  std::string root;                  // the model repository directory
  ThreadPool* thread_pool = nullptr;  // compute threads shared by all models
  LoadOptions load;                  // passed to the engine's loader
  const GpuBackend* gpu = nullptr;   // set: models are served on the GPU
  // What a model's config leaves out (all of it, without a config.pbtxt)
  // is read off the model (engine/model_autocomplete.h); false: a model
  // needs a complete config.pbtxt (--disable-auto-complete-config).
  bool auto_complete_config = true;
  // Poll() acts on a model only once none of its files changed for this
  // long (model_files.h). Tests shorten it; a second covers a copy's
  // pauses between files.
  std::chrono::milliseconds files_settle_time = ModelFiles::kDefaultSettleTime;
  // Called on the repository's own thread once a model version is
  // destroyed (its last reference gone, its queue drained), with its
  // ServedModel::load_id(): nothing can run on that load again.
  std::function<void(uint64_t load_id)> on_destroyed;
};

class ModelRepository {
 public:
  enum class State { kLoading, kReady, kUnavailable };
  struct IndexEntry {
    std::string name;
    std::string version;  // empty for a model with no version served
    State state;
    std::string reason;
  };

  explicit ModelRepository(RepositoryOptions options);
  ~ModelRepository();
  ModelRepository(const ModelRepository&) = delete;
  ModelRepository& operator=(const ModelRepository&) = delete;

  // Loads every model in the root; returns how many failed (each recorded).
  int LoadAll();
  // Brings the served models in line with the root's files now (see the
  // contract above); each change is logged. Returns how many models were
  // loaded, reloaded or unloaded (failures included); 0 when nothing
  // changed since the last load or poll.
  int Poll();
  // Loads or reloads one model. NOT_FOUND when the root has no such model.
  // `config`, when given, stands in for the model's config.pbtxt for this
  // load (normalized and checked as the file would be; a name it gives
  // must be the model's); the next load without one reads the file again.
  absl::Status Load(const std::string& name, const inference::ModelConfig* config = nullptr);
  // Stops serving a model; in-flight requests finish on their reference.
  absl::Status Unload(const std::string& name);

  // `version` empty: the highest served version. NOT_FOUND for an unknown
  // model or version, UNAVAILABLE for a model that is not ready.
  absl::StatusOr<std::shared_ptr<ServedModel>> Get(const std::string& name,
                                                   const std::string& version) const;
  // Every served version of one model, ascending (same errors as Get).
  absl::StatusOr<std::vector<std::shared_ptr<ServedModel>>> Versions(
      const std::string& name) const;
  // Every served version of every ready model.
  std::vector<std::shared_ptr<ServedModel>> AllServed() const;
  // Every model directory in the root and every model known, with state.
  std::vector<IndexEntry> Index() const;
  // True when every model the repository tried to load is ready (models
  // unloaded on purpose, and those loading for the first time, do not
  // count). Cheap: no file system access.
  bool AllReady() const;
  // OK, or why the GPU the models run on can serve no more (GpuBackend::
  // health); OK on the CPU.
  absl::Status GpuFault() const;

  static const char* StateName(State state);

 private:
  using VersionMap = std::map<int64_t, std::shared_ptr<ServedModel>>;
  struct Entry {
    State state = State::kLoading;
    bool unloaded = false;  // by Unload(), not by a failure
    std::string reason;
    VersionMap versions;
    // The files `versions` were loaded from; none for a config given
    // through the API.
    std::optional<ModelFiles> serving_files;
    // The files at the last load attempt, failed or not: Poll() tries
    // again only once they change.
    std::optional<ModelFiles> attempted_files;
  };

  // Load() with load_mutex_ held. `files`: the model's files as Poll()
  // found them (none: scanned here); versions whose files are as they were
  // loaded, by settled snapshots both, are kept rather than loaded again.
  absl::Status LoadHoldingLoadLock(const std::string& name, const inference::ModelConfig* config,
                                   std::optional<ModelFiles> files);
  // `config`: as for Load. `reusable` versions are taken as they are.
  absl::StatusOr<VersionMap> LoadVersions(const std::string& name,
                                          const inference::ModelConfig* config,
                                          const VersionMap& reusable);
  std::shared_ptr<ServedModel> Share(std::unique_ptr<ServedModel> model);
  // The entry's state and reason, or UNAVAILABLE with `gpu_fault` where it
  // serves on a GPU that has failed. Callers read GpuFault() before taking
  // mutex_, so a probe in progress never holds up the repository's lock.
  static std::pair<State, std::string> EffectiveState(const Entry& entry,
                                                      const absl::Status& gpu_fault);
  absl::StatusOr<const Entry*> ReadyEntryLocked(const std::string& name,
                                                const absl::Status& gpu_fault) const;
  void ReaperLoop();

  const RepositoryOptions options_;
  std::mutex load_mutex_;  // serialises Load/Unload
  mutable std::mutex mutex_;
  std::map<std::string, Entry> models_;  // guarded by mutex_
  // Models Poll() found still being written, so that it says so once.
  std::set<std::string> changing_;  // guarded by load_mutex_

  // Models whose last reference is gone, destroyed on reaper_.
  std::mutex reaper_mutex_;
  std::condition_variable reaper_wake_;
  std::vector<ServedModel*> to_destroy_;  // guarded by reaper_mutex_
  int live_models_ = 0;                   // guarded by reaper_mutex_
  bool stopping_ = false;                 // guarded by reaper_mutex_
  std::thread reaper_;
};

}  // namespace convd

#endif  // CONVD_SERVER_REPOSITORY_REPOSITORY_H_
