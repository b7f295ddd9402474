// Whether the GPU can still serve, for the whole process. A CUDA context is
// the process's, so one instance's fault is every instance's: once a kernel
// faults (an illegal address, a trap), every later CUDA call fails the same
// way and only a new process recovers. The CUDA backend asks this before
// each GPU run and load and tells it of each failure; the server reports
// what it records (GpuBackend::health).
//
// Thread safety: all methods may be called concurrently.
#ifndef CONVD_SERVER_CUDA_DEVICE_HEALTH_H_
#define CONVD_SERVER_CUDA_DEVICE_HEALTH_H_

#include <mutex>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace convd {

class DeviceHealth {
 public:
  // OK, or the recorded fault (UNAVAILABLE).
  absl::Status status() const;

  // What a GPU load or run that failed with `failure` reports: the
  // recorded fault if there is one. Else errors that say nothing of the
  // device (INVALID_ARGUMENT, RESOURCE_EXHAUSTED) pass through untouched,
  // and others, which may mean a lost context, are checked with a probe
  // (cuda::ProbeDevice). If the device still runs work, `failure` was that
  // run's own and passes through; if not, the fault is recorded
  // (UNAVAILABLE, naming the device and `failure`), logged once, and
  // returned, here and by every later call.
  absl::Status AfterFailure(const absl::Status& failure);

  // How GPU work runs under this: not at all once a fault is recorded (the
  // fault is returned without touching the device), else `gpu_work`, with
  // its failure reported through AfterFailure.
  absl::Status Guard(absl::FunctionRef<absl::Status()> gpu_work);

 private:
  mutable std::mutex mutex_;
  absl::Status fault_;  // guarded by mutex_
};

}  // namespace convd

#endif  // CONVD_SERVER_CUDA_DEVICE_HEALTH_H_
