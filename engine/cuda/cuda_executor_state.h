// CudaExecutor's private state, shared by its source files
// (cuda_executor.cc, cuda_autotune.cc). Internal to engine/cuda.
#ifndef CONVD_ENGINE_CUDA_CUDA_EXECUTOR_STATE_H_
#define CONVD_ENGINE_CUDA_CUDA_EXECUTOR_STATE_H_

#include <cuda_runtime.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/cuda/cuda_executor.h"
#include "engine/cuda/cuda_layers.h"
#include "engine/memory_plan.h"
#include "engine/stats.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"

namespace convd {

// Host memory the device copies to and from asynchronously.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (data_ != nullptr) cudaFreeHost(data_);
  }
  absl::Status Reserve(int64_t floats) {
    if (floats <= floats_) return absl::OkStatus();
    if (data_ != nullptr) cudaFreeHost(data_);
    data_ = nullptr;
    floats_ = 0;
    CUDA_RETURN_IF_ERROR(cudaMallocHost(&data_, floats * sizeof(float)));
    floats_ = floats;
    return absl::OkStatus();
  }
  float* data() { return data_; }
  int64_t floats() const { return floats_; }

 private:
  float* data_ = nullptr;
  int64_t floats_ = 0;
};

struct CudaExecutor::State {
  cudaStream_t stream = nullptr;
  std::vector<cuda::DeviceLayer> layers;  // parallel to graph.layers
  std::vector<bool> on_cpu;               // CPU fallback per layer
  std::vector<std::string> why;           // per layer
  std::vector<bool> forced;               // per layer: the policy named its algorithm
  // What depends only on the batch size, made on its first run.
  struct BatchPlan {
    MemoryPlan memory;
    ModelStats stats;  // static part; times are filled per run
    int64_t workspace_floats = 1;
    int eager_runs = 0;
    // The whole forward pass (copies included) as one CUDA graph, captured
    // on the second run without stats, with the buffer addresses it
    // captured; re-captured when a buffer moved.
    cudaGraphExec_t graph = nullptr;
    std::array<const void*, 5> graph_addresses{};
    std::string graph_failure;  // why this batch size runs eagerly
  };
  std::map<int, BatchPlan> batches;
  cuda::DeviceBuffer arena, workspace, input;
  PinnedBuffer staging_in, staging_out;
  std::vector<cudaEvent_t> events;                                      // per layer: start, end
  std::vector<float> host_in, host_residual, host_out, host_workspace;  // CPU fallback

  std::array<const void*, 5> Addresses() {
    return {arena.data(), workspace.data(), input.data(), staging_in.data(), staging_out.data()};
  }

  ~State() {
    for (auto& [batch, plan] : batches) {
      if (plan.graph != nullptr) cudaGraphExecDestroy(plan.graph);
    }
    for (cudaEvent_t event : events) cudaEventDestroy(event);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
};

}  // namespace convd

#endif  // CONVD_ENGINE_CUDA_CUDA_EXECUTOR_STATE_H_
