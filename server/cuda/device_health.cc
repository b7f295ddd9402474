#include "server/cuda/device_health.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/device.h"
#include "server/log.h"

namespace convd {

absl::Status DeviceHealth::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fault_;
}

absl::Status DeviceHealth::AfterFailure(const absl::Status& failure) {
  if (failure.ok()) return failure;
  std::lock_guard<std::mutex> lock(mutex_);  // one probe at a time
  if (!fault_.ok()) return fault_;
  if (absl::IsInvalidArgument(failure) || absl::IsResourceExhausted(failure)) return failure;
  const absl::Status probe = cuda::ProbeDevice();
  // A full device says nothing of its context.
  if (probe.ok() || absl::IsResourceExhausted(probe)) return failure;
  fault_ = absl::UnavailableError(absl::StrCat(
      "the GPU (", cuda::DeviceDescription(), ") failed and its CUDA context is lost: ",
      failure.message(), "; models on the GPU are unavailable until convd restarts"));
  Log(LogLevel::kError, std::string(fault_.message()));
  return fault_;
}

absl::Status DeviceHealth::Guard(absl::FunctionRef<absl::Status()> gpu_work) {
  if (absl::Status fault = status(); !fault.ok()) return fault;
  return AfterFailure(gpu_work());
}

}  // namespace convd
