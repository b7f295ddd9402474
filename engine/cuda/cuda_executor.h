// Runs an ExecutionPlan on the GPU with convd's own kernels (kernels/cuda).
//
// At Create: every layer's weights are uploaded once, in the layout its GPU
// algorithm wants (Winograd filters transformed, fully connected weights
// transposed); each convolution's GPU algorithm is chosen once (heuristic,
// or timed on the real shapes when autotuning) and recorded with why. A
// layer no GPU algorithm can run, or one named in `cpu_layers`, runs on the
// CPU backend (the plan's CPU algorithm) with copies either side, visibly
// in PlanString().
// At Run: the input goes through a pinned staging buffer with async copies
// on this executor's stream; activations live in a device arena laid out by
// the same memory plan as the CPU's (engine/memory_plan.h), grown once per
// new batch size; per-layer times come from CUDA events when stats are
// asked for. From the second run of a batch size without stats, the whole
// pass (copies included) replays as one CUDA graph captured for that batch
// size: one launch instead of one per layer, which is most of the time of a
// small model. Device errors become a Status naming the layer.
//
// Thread safety: one CudaExecutor per thread (a model instance); several
// run concurrently on their own streams.
#ifndef CONVD_ENGINE_CUDA_CUDA_EXECUTOR_H_
#define CONVD_ENGINE_CUDA_CUDA_EXECUTOR_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/autotune_cache.h"
#include "engine/memory_plan.h"
#include "engine/planner.h"
#include "engine/stats.h"
#include "engine/tensor.h"
#include "kernels/cuda/sgemm_launch.h"
#include "proto/model_config.pb.h"

namespace convd {
namespace cuda {
struct LayerBuffers;
}  // namespace cuda

struct CudaExecutorOptions {
  // Layers to run on the CPU even though a GPU kernel could (tests, and a
  // way around a misbehaving kernel in production).
  std::set<std::string> cpu_layers;
  // How each convolution's GPU algorithm is chosen (callers pass the
  // plan's policy): the heuristic (auto); autotune, which times every
  // applicable GPU algorithm at autotune_batch and keeps the fastest; or
  // the algorithm it forces, for every layer or per layer, where that can
  // run the layer (elsewhere the heuristic, and the plan says why).
  AlgorithmPolicy policy;
  int autotune_batch = 1;
  // Earlier autotuning decisions by device, driver, shape and batch; found
  // ones are used without timing, new ones stored. May be null.
  AutotuneCache* autotune_cache = nullptr;
  // Largest convolution workspace; larger batches are processed in chunks.
  int64_t workspace_limit_bytes = int64_t{1} << 30;
  // Replay each batch size's pass as a CUDA graph (off when a layer runs on
  // the CPU: the host waits mid-pass).
  bool cuda_graphs = true;
  // The arithmetic of the matrix products (model config
  // algorithm_policy.gpu_math): FP32, or TF32 or FP16 tensor cores.
  cuda::GemmMath math = cuda::GemmMath::kFp32;
};

// Memory a CudaExecutor holds.
struct CudaMemoryUse {
  int64_t device_bytes = 0;  // weights as uploaded, arena, workspace, input
  int64_t pinned_bytes = 0;  // host staging buffers (page-locked)
};

// The math a model config asks of the GPU (algorithm_policy.gpu_math).
inline cuda::GemmMath ConfiguredGemmMath(const inference::AlgorithmPolicyConfig& policy) {
  switch (policy.gpu_math()) {
    case inference::AlgorithmPolicyConfig::TF32:
      return cuda::GemmMath::kTf32;
    case inference::AlgorithmPolicyConfig::FP16:
      return cuda::GemmMath::kFp16;
    default:
      return cuda::GemmMath::kFp32;
  }
}

// The options a served model's GPU instances run with: the plan's
// algorithm policy, autotuning at the config's max_batch_size into
// `autotune_cache`, the config's GPU math, and CUDA graphs unless
// optimization.cuda.graphs is false.
CudaExecutorOptions ExecutorOptionsFor(const ExecutionPlan& plan,
                                       const inference::ModelConfig& config,
                                       AutotuneCache* autotune_cache);

class CudaExecutor {
 public:
  // UNAVAILABLE without a device; RESOURCE_EXHAUSTED when the weights do not
  // fit in device memory.
  static absl::StatusOr<std::unique_ptr<CudaExecutor>> Create(
      std::shared_ptr<const ExecutionPlan> plan, const CudaExecutorOptions& options);
  ~CudaExecutor();

  // As Executor::Run: `input` holds batch x C x H x W floats on the host,
  // `output` receives the output layer at `batch`.
  absl::Status Run(const float* input, int batch, Tensor& output, ModelStats* stats = nullptr);
  // The pinned buffer Run copies `batch` rows of input into before sending
  // them to the device: input written here (and passed to Run) is not
  // copied again. Valid until the next Run, Reserve or InputStaging; its
  // allocation's error otherwise.
  absl::StatusOr<float*> InputStaging(int batch);

  // Allocates the device arena, workspace and staging buffers for batches
  // up to `max_batch` now, so that a server finds out at load, not on a
  // request, that they do not fit (RESOURCE_EXHAUSTED); runs up to that
  // batch then allocate nothing and their CUDA graphs stay valid.
  absl::Status Reserve(int max_batch);
  CudaMemoryUse memory() const;

  // One line per layer: name, where it runs, the GPU algorithm and why.
  std::string PlanString() const;
  // "cuda_im2col", "cuda_winograd_f43", ..., or "cpu:<algorithm>" per layer
  // (index parallel to the graph's layers; empty for the input), as chosen
  // at load; a batch may run another (AlgorithmAt, cuda::ConvForBatch).
  const std::vector<std::string>& layer_algorithms() const { return algorithm_names_; }
  // What layer `layer` runs at `batch` (what the stats of a run name).
  std::string AlgorithmAt(int layer, int batch) const;

  CudaExecutor(const CudaExecutor&) = delete;
  CudaExecutor& operator=(const CudaExecutor&) = delete;

 private:
  struct State;
  explicit CudaExecutor(std::shared_ptr<const ExecutionPlan> plan,
                        const CudaExecutorOptions& options);
  absl::Status Prepare();
  absl::Status AutotuneConvolutions();
  // Makes `batch`'s plan (memory, stats, workspace size) on first use and
  // grows the buffers to hold it.
  absl::Status PlanBatch(int batch);
  // Enqueues the pass for `batch` on the stream: staging -> device copy,
  // every layer (events around each when record_events), device -> staging.
  absl::Status EnqueueForward(int batch, const MemoryPlan& memory, bool record_events);
  // Captures EnqueueForward for `batch` (already planned) as a graph.
  absl::Status CaptureGraph(int batch);
  absl::Status RunLayerOnCpu(int index, int batch, const cuda::LayerBuffers& buffers);

  std::shared_ptr<const ExecutionPlan> plan_;
  CudaExecutorOptions options_;
  std::unique_ptr<State> state_;
  std::vector<std::string> algorithm_names_;
  bool graphs_possible_ = false;
};

}  // namespace convd

#endif  // CONVD_ENGINE_CUDA_CUDA_EXECUTOR_H_
