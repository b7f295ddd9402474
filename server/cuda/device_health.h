// Whether the GPU can still serve, for the whole process. A CUDA context is
// the process's, so one instance's fault is every instance's: once a kernel
// faults (an illegal address, a trap), every later CUDA call fails the same
// way and only a new process recovers. The CUDA backend asks this before
// each GPU run and load and tells it of each failure; the server reports
// what it records (GpuBackend::health).
//
// A device can also hang instead of failing: a forward pass that never
// returns. While a run (GuardRun) has lasted longer than the run limit, the
// status says so, so the server stops being live and an orchestrator
// restarts it; should the run finish after all, the status is OK again.
//
// Thread safety: all methods may be called concurrently; status() never
// waits for a probe or a run.
#ifndef CONVD_SERVER_CUDA_DEVICE_HEALTH_H_
#define CONVD_SERVER_CUDA_DEVICE_HEALTH_H_

#include <chrono>
#include <mutex>
#include <set>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace convd {

class DeviceHealth {
 public:
  using Clock = std::chrono::steady_clock;

  // OK; or the recorded fault (UNAVAILABLE); or, while a run has lasted
  // over the run limit, UNAVAILABLE saying how long and that the device
  // may be hung.
  absl::Status status() const;

  // How long one run (GuardRun) may take before the device counts as
  // hung; zero (the default): no limit.
  void set_run_limit(std::chrono::milliseconds limit);

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
  // Guard for a forward pass: while it runs, its start counts against the
  // run limit (status()), and one that finishes over it is logged.
  absl::Status GuardRun(absl::FunctionRef<absl::Status()> forward_pass);

 private:
  absl::Status RecordedFault() const;  // fault_, read under mutex_

  mutable std::mutex mutex_;                // held briefly: never across a probe or a run
  absl::Status fault_;                      // guarded by mutex_
  std::multiset<Clock::time_point> runs_;   // starts of the runs in flight; guarded by mutex_
  std::chrono::milliseconds run_limit_{0};  // guarded by mutex_
  std::mutex probe_mutex_;                  // one probe at a time
};

}  // namespace convd

#endif  // CONVD_SERVER_CUDA_DEVICE_HEALTH_H_
