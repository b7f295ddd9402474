#include "server/core/tracer.h"

#include <limits>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"

namespace convd {
namespace {

constexpr char kTraceFileFlag[] = "--trace-file";

// The one value of a scalar setting, as an integer in [min, max].
absl::StatusOr<int64_t> ParseInteger(const std::string& name,
                                     const std::vector<std::string>& values, int64_t min,
                                     int64_t max) {
  if (values.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("trace setting '", name, "' takes one value; got ", values.size()));
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(values[0], &value) || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat("trace setting '", name,
                                                   "' must be an integer in [", min, ", ", max,
                                                   "]; got '", values[0], "'"));
  }
  return value;
}

// A request's settings, checked; each absent when not named, and a name
// given with no value clears that setting.
struct ParsedUpdate {
  template <typename T>
  struct Change {
    bool named = false;
    std::optional<T> value;  // unset: clear
  };
  Change<uint32_t> level;
  Change<uint32_t> rate;
  Change<int32_t> count;
  Change<uint32_t> log_frequency;
};

absl::StatusOr<ParsedUpdate> ParseUpdate(const inference::TraceSettingRequest& request,
                                         const std::string& file) {
  ParsedUpdate update;
  for (const auto& [name, setting] : request.settings()) {
    const std::vector<std::string> values(setting.value().begin(), setting.value().end());
    const bool clear = values.empty();
    if (name == "trace_file") {
      if (clear || (values.size() == 1 && values[0] == file)) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          "trace setting 'trace_file' cannot be changed through the API (a client could make "
          "convd write any file it may write); start convd with ",
          kTraceFileFlag));
    } else if (name == "trace_mode") {
      if (clear || (values.size() == 1 && values[0] == "triton")) continue;
      return absl::InvalidArgumentError(
          absl::StrCat("trace setting 'trace_mode': convd traces in mode 'triton' only; got '",
                       absl::StrJoin(values, ","), "'"));
    } else if (name == "trace_level") {
      update.level.named = true;
      if (clear) continue;
      ASSIGN_OR_RETURN(update.level.value, ParseTraceLevel(values));
    } else if (name == "trace_rate") {
      update.rate.named = true;
      if (clear) continue;
      ASSIGN_OR_RETURN(int64_t rate,
                       ParseInteger(name, values, 1, std::numeric_limits<uint32_t>::max()));
      update.rate.value = static_cast<uint32_t>(rate);
    } else if (name == "trace_count") {
      update.count.named = true;
      if (clear) continue;
      ASSIGN_OR_RETURN(int64_t count,
                       ParseInteger(name, values, -1, std::numeric_limits<int32_t>::max()));
      update.count.value = static_cast<int32_t>(count);
    } else if (name == "log_frequency") {
      update.log_frequency.named = true;
      if (clear) continue;
      ASSIGN_OR_RETURN(int64_t frequency,
                       ParseInteger(name, values, 0, std::numeric_limits<uint32_t>::max()));
      update.log_frequency.value = static_cast<uint32_t>(frequency);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown trace setting '", name,
                       "'; convd's are trace_level, trace_rate, trace_count, log_frequency, "
                       "trace_file and trace_mode"));
    }
  }
  return update;
}

// A global setting: set, or back to its value at start.
template <typename T>
void ApplyGlobal(const ParsedUpdate::Change<T>& change, T at_start, T& setting) {
  if (change.named) setting = change.value.value_or(at_start);
}

// A model's setting: its own, or (cleared) the global one's.
template <typename T>
void ApplyModel(const ParsedUpdate::Change<T>& change, std::optional<T>& setting) {
  if (change.named) setting = change.value;
}

void AddSetting(inference::TraceSettingResponse& response, const std::string& name,
                std::vector<std::string> values) {
  auto& setting = (*response.mutable_settings())[name];
  for (std::string& value : values) setting.add_value(std::move(value));
}

}  // namespace

absl::StatusOr<uint32_t> ParseTraceLevel(const std::vector<std::string>& values) {
  uint32_t level = kTraceOff;
  bool off = false;
  for (const std::string& value : values) {
    if (value == "OFF") {
      off = true;
    } else if (value == "TIMESTAMPS") {
      level |= kTraceTimestamps;
    } else if (value == "TENSORS") {
      level |= kTraceTensors;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("trace_level '", value, "' is not one of OFF, TIMESTAMPS and TENSORS"));
    }
  }
  if (values.empty() || (off && values.size() > 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("trace_level must be OFF alone, or TIMESTAMPS and/or TENSORS; got [",
                     absl::StrJoin(values, ","), "]"));
  }
  return level;
}

absl::StatusOr<TraceSettings> TraceSettingsFromValues(
    const std::map<std::string, std::vector<std::string>>& values) {
  inference::TraceSettingRequest request;
  for (const auto& [name, list] : values) {
    auto& setting = (*request.mutable_settings())[name];
    for (const std::string& value : list) setting.add_value(value);
  }
  ASSIGN_OR_RETURN(const ParsedUpdate update, ParseUpdate(request, /*file=*/""));
  const TraceSettings defaults;
  TraceSettings settings = defaults;
  ApplyGlobal(update.level, defaults.level, settings.level);
  ApplyGlobal(update.rate, defaults.rate, settings.rate);
  ApplyGlobal(update.count, defaults.count, settings.count);
  ApplyGlobal(update.log_frequency, defaults.log_frequency, settings.log_frequency);
  return settings;
}

absl::StatusOr<std::unique_ptr<Tracer>> Tracer::Create(std::string file,
                                                       const TraceSettings& settings) {
  if (settings.level != kTraceOff && file.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("a trace level other than OFF needs a trace file (", kTraceFileFlag, ")"));
  }
  if (settings.rate < 1 || settings.count < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("trace rate must be 1 or more and trace count -1 or more; got ", settings.rate,
                     " and ", settings.count));
  }
  std::shared_ptr<TraceSink> sink =
      file.empty() ? nullptr : std::make_shared<TraceSink>(std::move(file));
  std::unique_ptr<Tracer> tracer(new Tracer(std::move(sink), settings));
  std::lock_guard<std::mutex> lock(tracer->mutex_);
  tracer->UpdateAnyOnLocked();
  return tracer;
}

std::shared_ptr<RequestTrace> Tracer::Sample(absl::string_view model_name) {
  if (!any_on_.load(std::memory_order_relaxed)) return nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = models_.find(std::string(model_name));
  ModelSettings* model = found == models_.end() ? nullptr : &found->second;
  const TraceSettings settings = EffectiveLocked(model);
  if (settings.level == kTraceOff || sink_ == nullptr) return nullptr;
  uint64_t& requests = model != nullptr ? model->requests : global_requests_;
  if (++requests % settings.rate != 0) return nullptr;
  int32_t& count = model != nullptr && model->count.has_value() ? *model->count : global_.count;
  if (count == 0) return nullptr;
  if (count > 0) --count;
  return std::make_shared<RequestTrace>(next_id_.fetch_add(1), settings.level, sink_,
                                        model != nullptr ? std::string(model_name) : "",
                                        settings.log_frequency);
}

absl::StatusOr<inference::TraceSettingResponse> Tracer::Update(
    const inference::TraceSettingRequest& request) {
  const std::string file = sink_ != nullptr ? sink_->file() : "";
  ASSIGN_OR_RETURN(const ParsedUpdate update, ParseUpdate(request, file));
  const std::string& model_name = request.model_name();
  std::lock_guard<std::mutex> lock(mutex_);
  // Applied to copies, which replace the settings only when they hold.
  TraceSettings global = global_;
  std::optional<ModelSettings> model;
  if (model_name.empty()) {
    ApplyGlobal(update.level, at_start_.level, global.level);
    ApplyGlobal(update.rate, at_start_.rate, global.rate);
    ApplyGlobal(update.count, at_start_.count, global.count);
    ApplyGlobal(update.log_frequency, at_start_.log_frequency, global.log_frequency);
  } else {
    auto found = models_.find(model_name);
    model = found != models_.end() ? found->second : ModelSettings();
    ApplyModel(update.level, model->level);
    ApplyModel(update.rate, model->rate);
    ApplyModel(update.count, model->count);
    ApplyModel(update.log_frequency, model->log_frequency);
  }
  const uint32_t level = model.has_value() ? model->level.value_or(global.level) : global.level;
  if (level != kTraceOff && sink_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("tracing needs a trace file; start convd with ", kTraceFileFlag, "=PATH"));
  }
  if (model_name.empty()) {
    if (update.rate.named) global_requests_ = 0;
    global_ = global;
  } else if (model->empty()) {
    models_.erase(model_name);
  } else {
    if (update.rate.named) model->requests = 0;
    models_[model_name] = *model;
  }
  UpdateAnyOnLocked();
  const TraceSettings now =
      EffectiveLocked(model.has_value() && !model->empty() ? &*model : nullptr);
  inference::TraceSettingResponse response;
  std::vector<std::string> levels;
  if (now.level == kTraceOff) levels.push_back("OFF");
  if (now.level & kTraceTimestamps) levels.push_back("TIMESTAMPS");
  if (now.level & kTraceTensors) levels.push_back("TENSORS");
  AddSetting(response, "trace_level", std::move(levels));
  AddSetting(response, "trace_rate", {std::to_string(now.rate)});
  AddSetting(response, "trace_count", {std::to_string(now.count)});
  AddSetting(response, "log_frequency", {std::to_string(now.log_frequency)});
  AddSetting(response, "trace_file", {file});
  AddSetting(response, "trace_mode", {"triton"});
  return response;
}

TraceSettings Tracer::Effective(const std::string& model_name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = models_.find(model_name);
  return EffectiveLocked(found == models_.end() ? nullptr : &found->second);
}

TraceSettings Tracer::EffectiveLocked(const ModelSettings* model) const {
  TraceSettings settings = global_;
  if (model == nullptr) return settings;
  settings.level = model->level.value_or(settings.level);
  settings.rate = model->rate.value_or(settings.rate);
  settings.count = model->count.value_or(settings.count);
  settings.log_frequency = model->log_frequency.value_or(settings.log_frequency);
  return settings;
}

void Tracer::UpdateAnyOnLocked() {
  bool on = global_.level != kTraceOff;
  for (const auto& [name, model] : models_) on = on || model.level.value_or(kTraceOff) != kTraceOff;
  any_on_.store(on && sink_ != nullptr, std::memory_order_relaxed);
}

}  // namespace convd
