#include "server/repository/repository.h"

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/model_config.h"
#include "engine/status_macros.h"
#include "server/log.h"

namespace convd {
namespace {

namespace fs = std::filesystem;

// How long the destructor waits for outstanding model references.
constexpr std::chrono::seconds kReleaseTimeout(30);

// Model directories in the root: those holding a config.pbtxt.
std::set<std::string> ScanRoot(const std::string& root) {
  std::set<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(error) && ValidateModelName(name).ok() &&
        fs::is_regular_file(entry.path() / "config.pbtxt", error)) {
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

absl::StatusOr<std::map<int64_t, std::shared_ptr<ServedModel>>> ModelRepository::LoadVersions(
    const std::string& name, const inference::ModelConfig* given_config) {
  const std::string dir = (fs::path(options_.root) / name).string();
  inference::ModelConfig config;
  if (given_config != nullptr) {
    config = *given_config;
    RETURN_IF_ERROR(NormalizeModelConfig(name, config));
  } else {
    ASSIGN_OR_RETURN(config, ReadModelConfig(dir));
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
  std::map<int64_t, std::shared_ptr<ServedModel>> versions;
  for (int64_t version : chosen) {
    ASSIGN_OR_RETURN(LoadedModel loaded, LoadModelVersion(dir, config, version, load));
    ASSIGN_OR_RETURN(std::unique_ptr<ServedModel> served,
                     ServedModel::Create(std::move(loaded), options_.thread_pool, options_.gpu));
    versions[version] = Share(std::move(served));
  }
  return versions;
}

int ModelRepository::LoadAll() {
  int failures = 0;
  for (const std::string& name : ScanRoot(options_.root)) {
    if (!Load(name).ok()) ++failures;
  }
  return failures;
}

absl::Status ModelRepository::Load(const std::string& name, const inference::ModelConfig* config) {
  RETURN_IF_ERROR(ValidateModelName(name));
  std::error_code error;
  if (!fs::is_regular_file(fs::path(options_.root) / name / "config.pbtxt", error)) {
    return absl::NotFoundError(
        absl::StrCat("model '", name, "' is not in the model repository"));
  }
  std::lock_guard<std::mutex> load_lock(load_mutex_);
  bool had_versions = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& entry = models_[name];
    had_versions = !entry.versions.empty();
    if (!had_versions) entry.state = State::kLoading;
  }
  auto versions = LoadVersions(name, config);
  std::map<int64_t, std::shared_ptr<ServedModel>> replaced;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& entry = models_[name];
    if (versions.ok()) {
      replaced.swap(entry.versions);
      entry.versions = std::move(*versions);
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
  // `replaced` drops its references here, outside the lock.
  return versions.status();
}

absl::Status ModelRepository::Unload(const std::string& name) {
  RETURN_IF_ERROR(ValidateModelName(name));
  std::lock_guard<std::mutex> load_lock(load_mutex_);
  std::map<int64_t, std::shared_ptr<ServedModel>> released;
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
    if (EffectiveState(entry, gpu_fault).first != State::kReady && !entry.unloaded) return false;
  }
  return true;
}

std::vector<ModelRepository::IndexEntry> ModelRepository::Index() const {
  const std::set<std::string> on_disk = ScanRoot(options_.root);
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
