#include "server/cuda/device_health.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kernels/cuda/device.h"
#include "server/log.h"

namespace convd {
namespace {

double Seconds(std::chrono::nanoseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

}  // namespace

absl::Status DeviceHealth::RecordedFault() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fault_;
}

absl::Status DeviceHealth::status() const {
  Clock::duration running;
  std::chrono::milliseconds limit;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!fault_.ok() || run_limit_.count() == 0 || runs_.empty()) return fault_;
    running = Clock::now() - *runs_.begin();
    limit = run_limit_;
  }
  if (running <= limit) return absl::OkStatus();
  // Built outside the lock: the device's name is a driver query.
  return absl::UnavailableError(absl::StrFormat(
      "a run on the GPU (%s) has taken %.1f s, over its %.1f s limit: the device may be hung; "
      "models on the GPU are unavailable while it lasts",
      cuda::DeviceDescription(), Seconds(running), Seconds(limit)));
}

void DeviceHealth::set_run_limit(std::chrono::milliseconds limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  run_limit_ = limit;
}

absl::Status DeviceHealth::AfterFailure(const absl::Status& failure) {
  if (failure.ok()) return failure;
  std::lock_guard<std::mutex> probe_lock(probe_mutex_);
  if (absl::Status fault = RecordedFault(); !fault.ok()) return fault;
  if (absl::IsInvalidArgument(failure) || absl::IsResourceExhausted(failure)) return failure;
  const absl::Status probe = cuda::ProbeDevice();
  // A full device says nothing of its context.
  if (probe.ok() || absl::IsResourceExhausted(probe)) return failure;
  absl::Status fault = absl::UnavailableError(absl::StrCat(
      "the GPU (", cuda::DeviceDescription(), ") failed and its CUDA context is lost: ",
      failure.message(), "; models on the GPU are unavailable until convd restarts"));
  Log(LogLevel::kError, std::string(fault.message()));
  std::lock_guard<std::mutex> lock(mutex_);
  fault_ = fault;
  return fault;
}

absl::Status DeviceHealth::Guard(absl::FunctionRef<absl::Status()> gpu_work) {
  if (absl::Status fault = RecordedFault(); !fault.ok()) return fault;
  return AfterFailure(gpu_work());
}

absl::Status DeviceHealth::GuardRun(absl::FunctionRef<absl::Status()> forward_pass) {
  std::multiset<Clock::time_point>::iterator run;
  std::chrono::milliseconds limit;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!fault_.ok()) return fault_;
    run = runs_.insert(Clock::now());
    limit = run_limit_;
  }
  const absl::Status status = forward_pass();
  Clock::duration took;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    took = Clock::now() - *run;
    runs_.erase(run);
  }
  if (limit.count() > 0 && took > limit) {
    Log(LogLevel::kWarning,
        absl::StrFormat("a run on the GPU took %.1f s, over its %.1f s limit; it finished",
                        Seconds(took), Seconds(limit)));
  }
  return AfterFailure(status);
}

}  // namespace convd
