#include "server/repository/repository.h"

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/model_autocomplete.h"
#include "engine/model_config.h"
#include "engine/status_macros.h"
#include "server/log.h"

namespace convd {
namespace {

namespace fs = std::filesystem;

// How long the destructor waits for outstanding model references.
constexpr std::chrono::seconds kReleaseTimeout(30);

// Model directories in the root (IsModelDirectory).
std::set<std::string> ScanRoot(const std::string& root, bool auto_complete) {
  std::set<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(error) && ValidateModelName(name).ok() &&
        IsModelDirectory(entry.path().string(), auto_complete)) {
      names.insert(name);
    }
  }
  return names;
}

}  // namespace

ModelRepository::ModelRepository(RepositoryOptions options)
    : options_(std::move(options)), reaper_([this] { ReaperLoop(); }) {}

ModelRepository::~ModelRepository() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    models_.clear();  // drops the repository's references
  }
  {
    std::lock_guard<std::mutex> lock(reaper_mutex_);
    stopping_ = true;
    reaper_wake_.notify_all();
  }
  reaper_.join();
}

const char* ModelRepository::StateName(State state) {
  switch (state) {
    case State::kLoading:
      return "LOADING";
    case State::kReady:
      return "READY";
    case State::kUnavailable:
      return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

std::shared_ptr<ServedModel> ModelRepository::Share(std::unique_ptr<ServedModel> model) {
  {
    std::lock_guard<std::mutex> lock(reaper_mutex_);
    ++live_models_;
  }
  return std::shared_ptr<ServedModel>(model.release(), [this](ServedModel* released) {
    std::lock_guard<std::mutex> lock(reaper_mutex_);
    to_destroy_.push_back(released);
    reaper_wake_.notify_all();
  });
}

void ModelRepository::ReaperLoop() {
  std::unique_lock<std::mutex> lock(reaper_mutex_);
  std::optional<std::chrono::steady_clock::time_point> give_up;
  for (;;) {
    auto ready = [this] { return !to_destroy_.empty() || (stopping_ && live_models_ == 0); };
    if (stopping_ && !give_up.has_value()) {
      give_up = std::chrono::steady_clock::now() + kReleaseTimeout;
    }
    if (give_up.has_value()) {
      if (!reaper_wake_.wait_until(lock, *give_up, ready)) {
        // A reference was never released (a bug): exiting matters more.
        Log(LogLevel::kError, absl::StrCat(live_models_, " model(s) still referenced at "
                                           "shutdown; leaving them"));
        return;
      }
    } else {
      reaper_wake_.wait(lock, ready);
    }
    if (to_destroy_.empty()) return;  // stopping and every model is gone
    std::vector<ServedModel*> batch;
    batch.swap(to_destroy_);
    lock.unlock();
    for (ServedModel* model : batch) {
      const uint64_t load_id = model->load_id();
      delete model;  // drains its queue, joins its instances
      if (options_.on_destroyed) options_.on_destroyed(load_id);
    }
    lock.lock();
    live_models_ -= static_cast<int>(batch.size());
  }
}

absl::StatusOr<ModelRepository::VersionMap> ModelRepository::LoadVersions(
    const std::string& name, const inference::ModelConfig* given_config,
    const VersionMap& reusable) {
  const std::string dir = (fs::path(options_.root) / name).string();
  inference::ModelConfig config;
  if (given_config != nullptr) {
    config = *given_config;
    if (options_.auto_complete_config) {
      RETURN_IF_ERROR(AutoCompleteModelConfig(dir, /*without_file=*/false, config));
    }
    RETURN_IF_ERROR(NormalizeModelConfig(name, config));
  } else {
    ASSIGN_OR_RETURN(config, ReadModelConfig(dir, options_.auto_complete_config));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> available, ListVersions(dir));
  ASSIGN_OR_RETURN(std::vector<int64_t> chosen, VersionsToServe(config, available));
  RETURN_IF_ERROR(ResolveInstanceKinds(config, options_.gpu != nullptr));
  // A model only GPU instances run has its algorithms autotuned there, not
  // also on the CPU; one no GPU instance runs keeps no floats the CPU
  // does not read (FP16 fully connected weights).
  LoadOptions load = options_.load;
  load.autotune_cpu = HasCpuInstances(config);
  load.gpu_runs_plan = HasGpuInstances(config);
  VersionMap versions;
  for (int64_t version : chosen) {
    if (auto kept = reusable.find(version); kept != reusable.end()) {
      versions[version] = kept->second;
      continue;
    }
    ASSIGN_OR_RETURN(LoadedModel loaded, LoadModelVersion(dir, config, version, load));
    ASSIGN_OR_RETURN(std::unique_ptr<ServedModel> served,
                     ServedModel::Create(std::move(loaded), options_.thread_pool, options_.gpu));
    versions[version] = Share(std::move(served));
  }
  return versions;
}

int ModelRepository::LoadAll() {
  int failures = 0;
  for (const std::string& name : ScanRoot(options_.root, options_.auto_complete_config)) {
    if (!Load(name).ok()) ++failures;
  }
  return failures;
}

absl::Status ModelRepository::Load(const std::string& name, const inference::ModelConfig* config) {
  RETURN_IF_ERROR(ValidateModelName(name));
  if (!IsModelDirectory((fs::path(options_.root) / name).string(), options_.auto_complete_config)) {
    return absl::NotFoundError(
        absl::StrCat("model '", name, "' is not in the model repository"));
  }
  std::lock_guard<std::mutex> load_lock(load_mutex_);
  return LoadHoldingLoadLock(name, config, std::nullopt);
}

absl::Status ModelRepository::LoadHoldingLoadLock(const std::string& name,
                                                  const inference::ModelConfig* config,
                                                  std::optional<ModelFiles> files) {
  // Taken before anything is read, so that a file changed during the load
  // shows at the next poll.
  if (config == nullptr && !files.has_value()) {
    files = ScanModelFiles((fs::path(options_.root) / name).string());
  }
  bool had_versions = false;
  VersionMap reusable;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& entry = models_[name];
    had_versions = !entry.versions.empty();
    if (!had_versions) entry.state = State::kLoading;
    // Unsettled snapshots may have missed a write (model_files.h).
    const std::optional<ModelFiles>& then = entry.serving_files;
    if (config == nullptr && files->settled(options_.files_settle_time) && then.has_value() &&
        then->settled(options_.files_settle_time) && then->shared == files->shared) {
      for (const auto& [version, model] : entry.versions) {
        auto now_files = files->versions.find(version);
        auto then_files = then->versions.find(version);
        if (now_files != files->versions.end() && then_files != then->versions.end() &&
            now_files->second == then_files->second) {
          reusable[version] = model;
        }
      }
    }
  }
  auto versions = LoadVersions(name, config, reusable);
  VersionMap replaced;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& entry = models_[name];
    entry.attempted_files = files;
    if (versions.ok()) {
      replaced.swap(entry.versions);
      entry.versions = std::move(*versions);
      entry.serving_files = files;
      entry.state = State::kReady;
      entry.unloaded = false;
      entry.reason.clear();
    } else if (had_versions) {
      entry.reason = absl::StrCat("reload failed, still serving the previous load: ",
                                  versions.status().message());
    } else {
      entry.state = State::kUnavailable;
      entry.reason = std::string(versions.status().message());
    }
  }
  // `replaced` and `reusable` drop their references here, outside the lock.
  return versions.status();
}

int ModelRepository::Poll() {
  const std::set<std::string> on_disk = ScanRoot(options_.root, options_.auto_complete_config);
  std::lock_guard<std::mutex> load_lock(load_mutex_);
  std::vector<std::string> to_forget;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [name, entry] : models_) {
      if (!on_disk.contains(name)) to_forget.push_back(name);
    }
  }
  for (const std::string& name : to_forget) {
    VersionMap released;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = models_.find(name);
      released.swap(it->second.versions);
      models_.erase(it);
    }
    Log(LogLevel::kInfo, absl::StrCat("model '", name, "' left the model repository: unloaded"));
  }
  int changed = static_cast<int>(to_forget.size());
  std::set<std::string> still_changing;
  for (const std::string& name : on_disk) {
    ModelFiles files = ScanModelFiles((fs::path(options_.root) / name).string());
    bool loaded_before = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = models_.find(name);
      if (it != models_.end()) {
        const std::optional<ModelFiles>& then = it->second.attempted_files;
        if (then.has_value() && then->settled(options_.files_settle_time) && then->SameFiles(files))
          continue;
        loaded_before = !it->second.versions.empty();
      }
    }
    if (!files.settled(options_.files_settle_time)) {
      // Being written (a copy in progress, say): load it once it is whole.
      if (!changing_.contains(name)) {
        Log(LogLevel::kInfo, absl::StrCat("model '", name,
                                          "' is changing; loading it once its "
                                          "files are unchanged for ",
                                          options_.files_settle_time.count() / 1000.0, " s"));
      }
      still_changing.insert(name);
      continue;
    }
    ++changed;
    const absl::Status status = LoadHoldingLoadLock(name, nullptr, std::move(files));
    std::string versions;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& [number, model] : models_[name].versions) {
        absl::StrAppend(&versions, versions.empty() ? "" : ", ", number);
      }
    }
    if (status.ok()) {
      Log(LogLevel::kInfo,
          absl::StrCat("model repository changed: ", loaded_before ? "reloaded" : "loaded", " '",
                       name, "', serving version(s) ", versions));
    } else {
      Log(LogLevel::kError,
          absl::StrCat("model repository changed: ", loaded_before ? "reloading" : "loading", " '",
                       name, "' failed: ", status.message(),
                       loaded_before ? absl::StrCat("; still serving version(s) ", versions) : ""));
    }
  }
  changing_.swap(still_changing);
  return changed;
}

absl::Status ModelRepository::Unload(const std::string& name) {
  RETURN_IF_ERROR(ValidateModelName(name));
  std::lock_guard<std::mutex> load_lock(load_mutex_);
  VersionMap released;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = models_.find(name);
    if (it == models_.end()) {
      return absl::NotFoundError(absl::StrCat("unknown model '", name, "'"));
    }
    released.swap(it->second.versions);
    it->second.state = State::kUnavailable;
    it->second.unloaded = true;
    it->second.reason = "unloaded";
  }
  return absl::OkStatus();
}

absl::Status ModelRepository::GpuFault() const {
  if (options_.gpu == nullptr || !options_.gpu->health) return absl::OkStatus();
  return options_.gpu->health();
}

std::pair<ModelRepository::State, std::string> ModelRepository::EffectiveState(
    const Entry& entry, const absl::Status& gpu_fault) {
  if (entry.state == State::kReady && !gpu_fault.ok()) {
    for (const auto& [number, model] : entry.versions) {
      if (model->on_gpu()) return {State::kUnavailable, std::string(gpu_fault.message())};
    }
  }
  return {entry.state, entry.reason};
}

absl::StatusOr<const ModelRepository::Entry*> ModelRepository::ReadyEntryLocked(
    const std::string& name, const absl::Status& gpu_fault) const {
  RETURN_IF_ERROR(ValidateModelName(name));
  auto it = models_.find(name);
  if (it == models_.end()) return absl::NotFoundError(absl::StrCat("unknown model '", name, "'"));
  const auto [state, reason] = EffectiveState(it->second, gpu_fault);
  if (state != State::kReady) {
    return absl::UnavailableError(absl::StrCat("model '", name, "' is not ready (",
                                               StateName(state), reason.empty() ? "" : ": ", reason,
                                               ")"));
  }
  return &it->second;
}

absl::StatusOr<std::shared_ptr<ServedModel>> ModelRepository::Get(
    const std::string& name, const std::string& version) const {
  const absl::Status gpu_fault = GpuFault();
  std::lock_guard<std::mutex> lock(mutex_);
  ASSIGN_OR_RETURN(const Entry* entry, ReadyEntryLocked(name, gpu_fault));
  if (version.empty()) return entry->versions.rbegin()->second;
  ASSIGN_OR_RETURN(int64_t number, ParseVersion(version));
  auto it = entry->versions.find(number);
  if (it == entry->versions.end()) {
    return absl::NotFoundError(
        absl::StrCat("model '", name, "' has no version ", number, " being served"));
  }
  return it->second;
}

absl::StatusOr<std::vector<std::shared_ptr<ServedModel>>> ModelRepository::Versions(
    const std::string& name) const {
  const absl::Status gpu_fault = GpuFault();
  std::lock_guard<std::mutex> lock(mutex_);
  ASSIGN_OR_RETURN(const Entry* entry, ReadyEntryLocked(name, gpu_fault));
  std::vector<std::shared_ptr<ServedModel>> versions;
  for (const auto& [number, model] : entry->versions) versions.push_back(model);
  return versions;
}

std::vector<std::shared_ptr<ServedModel>> ModelRepository::AllServed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<ServedModel>> all;
  for (const auto& [name, entry] : models_) {
    for (const auto& [number, model] : entry.versions) all.push_back(model);
  }
  return all;
}

bool ModelRepository::AllReady() const {
  const absl::Status gpu_fault = GpuFault();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, entry] : models_) {
    const State state = EffectiveState(entry, gpu_fault).first;
    if (state != State::kReady && state != State::kLoading && !entry.unloaded) return false;
  }
  return true;
}

std::vector<ModelRepository::IndexEntry> ModelRepository::Index() const {
  const std::set<std::string> on_disk = ScanRoot(options_.root, options_.auto_complete_config);
  std::vector<IndexEntry> index;
  const absl::Status gpu_fault = GpuFault();
  std::lock_guard<std::mutex> lock(mutex_);
  std::set<std::string> names = on_disk;
  for (const auto& [name, entry] : models_) names.insert(name);
  for (const std::string& name : names) {
    auto it = models_.find(name);
    if (it == models_.end()) {
      index.push_back({name, "", State::kUnavailable, "not loaded"});
    } else if (it->second.versions.empty()) {
      index.push_back({name, "", it->second.state, it->second.reason});
    } else {
      const auto [state, reason] = EffectiveState(it->second, gpu_fault);
      for (const auto& [number, model] : it->second.versions) {
        index.push_back({name, std::to_string(number), state, reason});
      }
    }
  }
  return index;
}

}  // namespace convd
