// The GPU backend as the server sees it: present only when the binary links
// server/cuda (builds with nvcc), which registers it before main. The
// serving core never includes CUDA headers, so it builds everywhere.
#ifndef CONVD_SERVER_CORE_GPU_BACKEND_H_
#define CONVD_SERVER_CORE_GPU_BACKEND_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/planner.h"
#include "proto/model_config.pb.h"
#include "server/batching/scheduler.h"

namespace convd {

struct GpuMemory {
  int64_t used_bytes = 0;   // by every process on the device
  int64_t total_bytes = 0;
};

// What the GPU is doing, from NVML; as Triton's nv_gpu_utilization and
// nv_gpu_power_*.
struct GpuActivity {
  double utilization = 0;         // fraction of the last sample period a kernel ran, [0, 1]
  double power_watts = -1;        // -1: not reported by this board
  double power_limit_watts = -1;  // likewise
};

struct GpuBackend {
  // Whether --device=auto may choose it. False until its kernels have
  // passed bench/gpu_check.sh on a GPU: until then only an explicit
  // --device=cuda runs it, so no one gets unverified numbers by default.
  bool default_choice = false;
  // Whether a device can be used now, and which ("NVIDIA H100 ... (sm_90)"
  // or why there is none).
  std::function<bool()> available;
  std::function<std::string()> description;
  // One model instance on the GPU: weights uploaded, algorithms chosen
  // (autotuned when the config's algorithm policy says AUTOTUNE).
  std::function<absl::StatusOr<std::unique_ptr<InstanceRunner>>(
      std::shared_ptr<const ExecutionPlan> plan, const inference::ModelConfig& config)>
      create_runner;
  // The device's memory now (cudaMemGetInfo), for /metrics.
  std::function<absl::StatusOr<GpuMemory>()> memory;
  // Utilisation and power (NVML); UNAVAILABLE where the driver's NVML
  // library is missing. May be empty.
  std::function<absl::StatusOr<GpuActivity>()> activity;
  // OK, or why the device can serve no more: UNAVAILABLE, naming the
  // fault, once a run failed and a probe found the process's CUDA context
  // lost (a kernel's illegal address or trap: every later call fails, and
  // only a new process recovers). From then on every GPU instance fails
  // fast with it, the repository reports models with GPU instances
  // unavailable, and the server is not live, so an orchestrator restarts
  // it. Likewise, while a forward pass has run longer than the run timeout
  // (the device may be hung). Cheap (no device call). May be empty: always
  // healthy.
  std::function<absl::Status()> health;
  // Where autotuning decisions persist (empty: this process only); called
  // before any model loads.
  std::function<void(const std::string& path)> set_autotune_cache;
  // How long one forward pass may run before health() reports the device
  // hung (for as long as that run lasts); zero: no limit. Called before
  // any model loads. May be empty.
  std::function<void(std::chrono::milliseconds limit)> set_run_timeout;
};

// Called once, from a static initializer of the backend's library.
bool RegisterGpuBackend(GpuBackend backend);
// Null when no GPU backend is linked into this binary.
const GpuBackend* GetGpuBackend();

}  // namespace convd

#endif  // CONVD_SERVER_CORE_GPU_BACKEND_H_
