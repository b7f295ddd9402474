// CudaExecutor's autotuning: every GPU algorithm timed per convolution on
// the real shapes, within the policy's budget, decisions cached on disk.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/cuda/cuda_executor.h"
#include "engine/cuda/cuda_executor_state.h"
#include "engine/cuda/cuda_layers.h"
#include "engine/cuda/kernel_revision.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device.h"

namespace convd {

using cuda::DeviceBuffer;
using cuda::GpuConv;

namespace {

// The build of the kernels: their sources' fingerprint and the CUDA toolkit
// that compiled them (a new nvcc changes what the same source runs as).
std::string KernelBuild() { return absl::StrCat(cuda::kKernelRevision, "/cuda", CUDART_VERSION); }

}  // namespace

// Times every candidate on the real shapes and keeps the fastest; the
// weights are re-uploaded in the winner's layout. Within the policy's
// budget: once it is spent, the layers left keep the heuristic's choice,
// and a layer whose candidates were not all timed is not cached.
absl::Status CudaExecutor::AutotuneConvolutions() {
  const Graph& graph = plan_->graph;
  State& state = *state_;
  const int batch = std::max(1, options_.autotune_batch);
  const int64_t budget_ms = options_.policy.autotune_budget_ms;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(budget_ms);
  auto out_of_time = [&] { return std::chrono::steady_clock::now() >= deadline; };
  // The cache key's device and build half, the same for every layer.
  const std::string device_name = cuda::DeviceDescription();
  const std::string driver = cuda::DriverVersion();
  const std::string kernels = KernelBuild();
  for (size_t i = 1; i < graph.layers.size(); ++i) {
    const Layer& layer = graph.layers[i];
    if (layer.kind != LayerKind::kConvolution || state.on_cpu[i] || state.forced[i]) continue;
    const ConvParams params = ConvParamsFor(graph, layer, batch);
    const cuda::DeviceConvShape shape = cuda::ToDeviceConv(params);
    // Tensor cores change which algorithm is fastest: a decision per math
    // (FP32's keys carry no suffix, as before the other maths existed).
    const AutotuneCache::Key key{
        device_name, driver, kernels,
        options_.math == cuda::GemmMath::kFp32
            ? params.ToString()
            : absl::StrCat(params.ToString(), " ", cuda::GemmMathName(options_.math)),
        batch};
    if (options_.autotune_cache != nullptr) {
      if (std::optional<std::string> cached = options_.autotune_cache->Find(key)) {
        const std::vector<GpuConv> candidates = cuda::ConvCandidates(shape);
        auto known = std::find_if(candidates.begin(), candidates.end(),
                                  [&](GpuConv c) { return *cached == cuda::GpuConvName(c); });
        if (known != candidates.end()) {
          auto device = cuda::UploadLayer(*plan_, static_cast<int>(i), *known);
          if (!device.ok()) return device.status();
          state.layers[i] = std::move(*device);
          state.why[i] = absl::StrCat("autotuned earlier at batch ", batch, " (cache)");
          algorithm_names_[i] = *cached;
          continue;
        }
      }
    }
    if (out_of_time()) {
      state.why[i] = absl::StrCat(AutotuneBudgetSpent(budget_ms), "; ", state.why[i]);
      continue;
    }
    auto input = DeviceBuffer::Allocate(params.input_elements());
    auto output = DeviceBuffer::Allocate(params.output_elements());
    if (!input.ok()) return input.status();
    if (!output.ok()) return output.status();
    float best_ms = std::numeric_limits<float>::infinity();
    GpuConv best = state.layers[i].conv;
    bool all_timed = true;
    for (GpuConv candidate : cuda::ConvCandidates(shape)) {
      if (best_ms < std::numeric_limits<float>::infinity() && out_of_time()) {
        all_timed = false;
        break;
      }
      auto device = cuda::UploadLayer(*plan_, static_cast<int>(i), candidate);
      if (!device.ok()) return device.status();
      const int64_t workspace_floats = cuda::ConvWorkspaceFloats(candidate, shape, batch);
      auto workspace = DeviceBuffer::Allocate(std::max<int64_t>(1, workspace_floats));
      if (!workspace.ok()) continue;  // too large at this batch: not a candidate
      cuda::LayerBuffers buffers{
          {input->data()}, nullptr, output->data(), workspace->data(), workspace_floats};
      float fastest = std::numeric_limits<float>::infinity();
      for (int repeat = 0; repeat < 4; ++repeat) {  // the first warms up
        CUDA_RETURN_IF_ERROR(cudaEventRecord(state.events[0], state.stream));
        if (absl::Status s = cuda::LaunchLayer(graph, static_cast<int>(i), *device, batch, buffers,
                                               state.stream, options_.math);
            !s.ok()) {
          return s;
        }
        CUDA_RETURN_IF_ERROR(cudaEventRecord(state.events[1], state.stream));
        CUDA_RETURN_IF_ERROR(cudaEventSynchronize(state.events[1]));
        float ms = 0;
        CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, state.events[0], state.events[1]));
        if (repeat > 0) fastest = std::min(fastest, ms);
      }
      if (fastest < best_ms) {
        best_ms = fastest;
        best = candidate;
        state.layers[i] = std::move(*device);
      }
    }
    state.why[i] = absl::StrFormat("autotuned at batch %d: fastest %.3f ms", batch, best_ms);
    if (!all_timed) absl::StrAppend(&state.why[i], AutotuneCutShort(budget_ms));
    algorithm_names_[i] = cuda::GpuConvName(best);
    // A cache that cannot be written only costs the next load its timing.
    if (options_.autotune_cache != nullptr && all_timed) {
      options_.autotune_cache->Store(key, algorithm_names_[i]).IgnoreError();
    }
  }
  return absl::OkStatus();
}

}  // namespace convd
