// Triton's trace extension: which inference requests are traced, read and
// changed at run time over gRPC (TraceSetting) and HTTP
// (GET|POST /v2[/models/{m}]/trace/setting), with Triton's setting names
// and string values:
//   trace_level    ["OFF"], or any of ["TIMESTAMPS", "TENSORS"]
//   trace_rate     "1000": one request in that many is traced
//   trace_count    "-1": how many more traces to take (-1: no limit);
//                  each trace taken counts it down, to "0": none
//   log_frequency  "0": traces go to trace_file when convd exits; N:
//                  to trace_file.0, .1, ... each time N are gathered
//   trace_file     where traces go; set at start (--trace-file) only, as
//                  in Triton, so a client cannot make convd write files
//                  of its choosing
//   trace_mode     "triton" (Triton's other mode, OpenTelemetry, is not
//                  implemented)
// The global settings apply to every model without its own. A model's own
// settings are those named in an update for that model; the rest follow
// the global ones, now and as they change. Clearing a setting (named with
// no value) returns a model's to the global one, and a global one to its
// value at start; a model left with no setting of its own follows the
// global ones wholly again, with their sampling and count.
//
// Thread safety: every method may be called concurrently.
#ifndef CONVD_SERVER_CORE_TRACER_H_
#define CONVD_SERVER_CORE_TRACER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/inference.pb.h"
#include "server/core/trace.h"

namespace convd {

struct TraceSettings {
  uint32_t level = kTraceOff;  // TraceLevel bits
  uint32_t rate = 1000;        // at least 1
  int32_t count = -1;          // -1: no limit
  uint32_t log_frequency = 0;
};

// Parses a trace_level list: "OFF" alone, or any of "TIMESTAMPS" and
// "TENSORS". INVALID_ARGUMENT naming a value that is none of these.
absl::StatusOr<uint32_t> ParseTraceLevel(const std::vector<std::string>& values);

// Settings named as the API names them ("trace_level", "trace_rate",
// "trace_count", "log_frequency"), with its string values, over
// TraceSettings' defaults: the start-up flags go through the API's own
// parser, so both accept the same values and refuse the rest with the same
// messages (INVALID_ARGUMENT naming the setting). "trace_file" is refused:
// the file is Create's argument.
absl::StatusOr<TraceSettings> TraceSettingsFromValues(
    const std::map<std::string, std::vector<std::string>>& values);

class Tracer {
 public:
  // `file` empty: no traces can be taken, so a level other than OFF is
  // refused (at start and through the API) with FAILED_PRECONDITION. The
  // settings given are the global ones at start, and those a global
  // setting returns to when cleared; a rate under 1 or a count under -1 is
  // INVALID_ARGUMENT (TraceSettingsFromValues never returns those).
  static absl::StatusOr<std::unique_ptr<Tracer>> Create(std::string file,
                                                        const TraceSettings& settings);

  // A new trace when the request for `model_name` is one to trace, else
  // null. While every level is OFF this is one atomic load.
  std::shared_ptr<RequestTrace> Sample(absl::string_view model_name);

  // Applies the settings the request names, all or none (an unknown name,
  // a malformed or out-of-range value, trace_file: INVALID_ARGUMENT naming
  // it; a level other than OFF without a trace file: FAILED_PRECONDITION),
  // for request.model_name() or, empty, globally; then returns the
  // settings in force for that model (or the global ones). The caller
  // checks that the model exists.
  absl::StatusOr<inference::TraceSettingResponse> Update(
      const inference::TraceSettingRequest& request);

  // The settings in force for `model_name` ("": the global ones).
  TraceSettings Effective(const std::string& model_name) const;

  // Returns once every trace file due so far has been written (they are
  // written by a thread of their own).
  void WaitForWrites() {
    if (sink_ != nullptr) sink_->WaitForWrites();
  }

 private:
  // A model's own settings: those set, the others follow the global ones.
  struct ModelSettings {
    std::optional<uint32_t> level;
    std::optional<uint32_t> rate;
    std::optional<int32_t> count;
    std::optional<uint32_t> log_frequency;
    uint64_t requests = 0;  // seen since its rate was last set
    bool empty() const { return !level && !rate && !count && !log_frequency; }
  };

  Tracer(std::shared_ptr<TraceSink> sink, const TraceSettings& settings)
      : sink_(std::move(sink)), at_start_(settings), global_(settings) {}
  TraceSettings EffectiveLocked(const ModelSettings* model) const;
  void UpdateAnyOnLocked();

  const std::shared_ptr<TraceSink> sink_;  // null without a trace file
  const TraceSettings at_start_;
  std::atomic<bool> any_on_{false};  // some level is not OFF
  std::atomic<uint64_t> next_id_{1};
  mutable std::mutex mutex_;
  // Guarded by mutex_:
  TraceSettings global_;
  uint64_t global_requests_ = 0;  // for models without their own
  std::map<std::string, ModelSettings> models_;
};

}  // namespace convd

#endif  // CONVD_SERVER_CORE_TRACER_H_
