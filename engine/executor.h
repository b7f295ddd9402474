// Runs an ExecutionPlan on the CPU backend. Owns the activation arena and
// the workspace, sized per batch from the memory plan and reused across
// runs: no allocation once a batch size has been seen, or at all for
// batches up to a Reserve()d size.
//
// Thread safety: one Executor per thread (a model instance); any number of
// executors may share one plan, which is immutable.
//
//   Executor executor(plan, ThreadPool::Default());
//   Tensor output;
//   RETURN_IF_ERROR(executor.Run(images, batch, output, &stats));
#ifndef CONVD_ENGINE_EXECUTOR_H_
#define CONVD_ENGINE_EXECUTOR_H_

#include <map>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/memory_plan.h"
#include "engine/planner.h"
#include "engine/stats.h"
#include "engine/tensor.h"

namespace convd {

class Executor {
 public:
  Executor(std::shared_ptr<const ExecutionPlan> plan, ThreadPool* thread_pool);

  // `input` holds batch x C x H x W floats (the plan's input shape).
  // `output` is (re)allocated to the output layer's shape at `batch`.
  // When `stats` is not null it receives the static stats plus per-layer
  // measured times.
  // RESOURCE_EXHAUSTED when the arena for `batch` cannot be allocated.
  absl::Status Run(const float* input, int batch, Tensor& output,
                   ModelStats* stats = nullptr);

  // Allocates the arena and workspace for batches up to `max_batch` now,
  // so that a server finds out at load, not on a request, that they do not
  // fit (RESOURCE_EXHAUSTED).
  absl::Status Reserve(int max_batch);
  // Host bytes this executor holds: arena and workspace (the plan's
  // weights are the plan's, shared by every executor).
  int64_t held_bytes() const { return arena_.bytes() + workspace_.bytes(); }

  const ExecutionPlan& plan() const { return *plan_; }

 private:
  // Everything that depends only on the batch size, made on its first run.
  struct BatchState {
    MemoryPlan memory;
    int64_t workspace_floats = 0;
    ModelStats stats;  // static part; times are filled per run
  };
  // Checks `batch`, makes its state on first use and grows the arena and
  // workspace to hold it (as CudaExecutor::PlanBatch on the GPU).
  absl::StatusOr<const BatchState*> PrepareBatch(int batch);

  std::shared_ptr<const ExecutionPlan> plan_;
  ThreadPool* thread_pool_;
  std::map<int, BatchState> batches_;
  AlignedBuffer arena_;
  AlignedBuffer workspace_;
};

}  // namespace convd

#endif  // CONVD_ENGINE_EXECUTOR_H_
