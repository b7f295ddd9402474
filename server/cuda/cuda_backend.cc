// Registers the GPU backend (engine/cuda's CudaExecutor, one per model
// instance) with the server before main. Linked into convd only in builds
// with nvcc (see server/BUILD).
#include <cuda_runtime.h>

#include <algorithm>

#include "engine/cuda/cuda_executor.h"
#include "engine/status_macros.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device.h"
#include "server/core/gpu_backend.h"
#include "server/cuda/device_health.h"
#include "server/cuda/nvml.h"

namespace convd {
namespace {

// The process's: see device_health.h.
DeviceHealth& Health() {
  static auto* health = new DeviceHealth;
  return *health;
}

class CudaInstanceRunner : public InstanceRunner {
 public:
  explicit CudaInstanceRunner(std::unique_ptr<CudaExecutor> executor)
      : executor_(std::move(executor)) {}

  absl::Status Run(const float* input, int batch, Tensor& output, ModelStats* stats) override {
    return Health().GuardRun([&] { return executor_->Run(input, batch, output, stats); });
  }
  absl::Status Reserve(int max_batch) override {
    return Health().Guard([&] { return executor_->Reserve(max_batch); });
  }
  // Batches are gathered into the pinned staging buffer the copy to the
  // device starts from. If it cannot be had, Run (under the health guard)
  // reports why.
  float* InputBuffer(int batch) override {
    absl::StatusOr<float*> staging = executor_->InputStaging(batch);
    return staging.ok() ? *staging : nullptr;
  }
  MemoryUse memory() const override {
    const CudaMemoryUse use = executor_->memory();
    return MemoryUse{.pinned_bytes = use.pinned_bytes, .device_bytes = use.device_bytes};
  }

 private:
  std::unique_ptr<CudaExecutor> executor_;
};

// Shared by every model instance of the process.
AutotuneCache& Cache(const std::string* new_path = nullptr) {
  static auto* cache = new AutotuneCache("");
  if (new_path != nullptr) {
    delete cache;
    cache = new AutotuneCache(*new_path);
  }
  return *cache;
}

absl::StatusOr<std::unique_ptr<InstanceRunner>> CreateRunner(
    std::shared_ptr<const ExecutionPlan> plan, const inference::ModelConfig& config) {
  const CudaExecutorOptions options = ExecutorOptionsFor(*plan, config, &Cache());
  std::unique_ptr<CudaExecutor> executor;
  RETURN_IF_ERROR(Health().Guard([&]() -> absl::Status {
    ASSIGN_OR_RETURN(executor, CudaExecutor::Create(std::move(plan), options));
    return absl::OkStatus();
  }));
  return std::unique_ptr<InstanceRunner>(new CudaInstanceRunner(std::move(executor)));
}

absl::StatusOr<GpuMemory> DeviceMemory() {
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&free_bytes, &total_bytes));
  return GpuMemory{static_cast<int64_t>(total_bytes - free_bytes),
                   static_cast<int64_t>(total_bytes)};
}

// NVML for device 0 (the one the executors use), opened on the first
// scrape; where it cannot be opened, every scrape gets that reason.
absl::StatusOr<GpuActivity> DeviceActivity() {
  static const auto* nvml = new absl::StatusOr<std::unique_ptr<Nvml>>(Nvml::OpenForCudaDevice(0));
  if (!nvml->ok()) return nvml->status();
  return (**nvml)->Read();
}

// The kernels, the executor and serving passed bench/gpu_check.sh on an
// H100 (bench/RESULTS.md, "GPU"), so `--device auto` takes the GPU.
constexpr bool kVerifiedOnAGpu = true;

const bool kRegistered = RegisterGpuBackend(
    {.default_choice = kVerifiedOnAGpu,
     .available = [] { return cuda::DeviceAvailable(); },
     .description = [] { return cuda::DeviceDescription(); },
     .create_runner = CreateRunner,
     .memory = DeviceMemory,
     .activity = DeviceActivity,
     .health = [] { return Health().status(); },
     .set_autotune_cache = [](const std::string& path) { Cache(&path); },
     .set_run_timeout = [](std::chrono::milliseconds limit) { Health().set_run_limit(limit); }});

}  // namespace
}  // namespace convd
