// One loaded model version being served: its plan, its scheduler with one
// instance runner (CPU or GPU) per configured instance, and its statistics.
//
// Destruction stops the scheduler, which runs every queued request first;
// it must not happen on one of the scheduler's own threads (the repository
// destroys models on its own thread, see repository.h).
#ifndef CONVD_SERVER_CORE_SERVED_MODEL_H_
#define CONVD_SERVER_CORE_SERVED_MODEL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model_loader.h"
#include "kernels/cpu/thread_pool.h"
#include "server/batching/scheduler.h"
#include "server/core/gpu_backend.h"
#include "server/core/model_statistics.h"

namespace convd {

// Resolves `config`'s instance group kinds as Triton does: KIND_AUTO and
// KIND_MODEL become KIND_GPU on a server with a GPU (`on_gpu_server`), else
// KIND_CPU; KIND_CPU stays. UNIMPLEMENTED for KIND_GPU without a GPU.
absl::Status ResolveInstanceKinds(inference::ModelConfig& config, bool on_gpu_server);

// Whether a config with resolved kinds runs some instance on the CPU.
bool HasCpuInstances(const inference::ModelConfig& config);
// Whether a config with resolved kinds runs some instance on the GPU.
bool HasGpuInstances(const inference::ModelConfig& config);

class ServedModel {
 public:
  // `thread_pool` (shared by all instances) must outlive the model. `gpu`
  // is the GPU backend when the server runs on the GPU
  // (server/core/gpu_backend.h), else null. Each instance_group runs where
  // its kind says: KIND_GPU on the GPU (UNIMPLEMENTED without one), KIND_CPU
  // on the CPU, KIND_AUTO and KIND_MODEL on the GPU when there is one; the
  // served config() holds the resolved kinds.
  static absl::StatusOr<std::unique_ptr<ServedModel>> Create(LoadedModel model,
                                                             ThreadPool* thread_pool,
                                                             const GpuBackend* gpu = nullptr);
  ~ServedModel() = default;

  const std::string& name() const { return model_.config.name(); }
  int64_t version() const { return model_.version; }
  // Unique to this load within the process: a reload of the same version
  // is a new model to the response cache.
  uint64_t load_id() const { return load_id_; }
  const inference::ModelConfig& config() const { return model_.config; }
  const std::vector<std::string>& labels() const { return model_.labels; }
  const ExecutionPlan& plan() const { return *model_.plan; }
  int64_t input_row_elements() const { return input_row_elements_; }
  int64_t output_row_elements() const { return output_row_elements_; }
  // What the model holds, reserved at load for max_batch_size: host bytes
  // are the plan's weights once plus each CPU instance's arena and
  // workspace; pinned and device bytes are the GPU instances' staging
  // buffers and their weights, arenas and workspaces on the device.
  const MemoryUse& memory() const { return memory_; }
  // Whether some instance runs on the GPU (KIND_GPU once resolved).
  bool on_gpu() const;
  // memory() by Triton's MemoryUsage types, as the statistics and /metrics
  // report it: "CPU" always, "CPU_PINNED" and "GPU" when the model holds
  // some (only models with GPU instances do).
  std::vector<std::pair<std::string, int64_t>> MemoryByType() const;

  Scheduler& scheduler() { return *scheduler_; }
  ModelStatisticsRecorder& statistics() { return statistics_; }
  const ModelStatisticsRecorder& statistics() const { return statistics_; }

 private:
  explicit ServedModel(LoadedModel model);

  LoadedModel model_;
  const uint64_t load_id_;
  int64_t input_row_elements_ = 0;
  int64_t output_row_elements_ = 0;
  MemoryUse memory_;
  ModelStatisticsRecorder statistics_;  // before scheduler_: it observes executions
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace convd

#endif  // CONVD_SERVER_CORE_SERVED_MODEL_H_
