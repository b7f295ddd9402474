// The GPU side of each layer for CudaExecutor: which algorithm runs a
// convolution and why, the layer's weights in device memory in that
// algorithm's layout, and the launch of one layer on a stream.
// Internal to engine/cuda.
#ifndef CONVD_ENGINE_CUDA_CUDA_LAYERS_H_
#define CONVD_ENGINE_CUDA_CUDA_LAYERS_H_

#include <cuda_runtime.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "engine/planner.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_params.h"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/cuda/winograd_launch.h"

namespace convd::cuda {

enum class GpuConv {
  kNone,
  kIm2col,
  kImplicitGemm,
  kDirect,
  kWinogradF23,
  kWinogradF43,
  kWinogradF25,
  kWinogradF45
};

// Each algorithm's names: as algorithm policies name it ("im2col": model
// configs, convrun --algo; the CPU's names where the CPU has it, else one
// of kGpuOnlyConvAlgorithms), and as plans and stats show it
// ("cuda_im2col").
struct GpuConvNames {
  GpuConv algorithm;
  const char* policy_name;
  const char* name;
};
inline constexpr GpuConvNames kGpuConvs[] = {
    {GpuConv::kIm2col, "im2col", "cuda_im2col"},
    {GpuConv::kImplicitGemm, "implicit_gemm", "cuda_implicit_gemm"},
    {GpuConv::kDirect, "direct", "cuda_direct"},
    {GpuConv::kWinogradF23, "winograd_f23", "cuda_winograd_f23"},
    {GpuConv::kWinogradF43, "winograd_f43", "cuda_winograd_f43"},
    {GpuConv::kWinogradF25, "winograd_f25", "cuda_winograd_f25"},
    {GpuConv::kWinogradF45, "winograd_f45", "cuda_winograd_f45"},
};

// "cuda_im2col", "cuda_implicit_gemm", ...; "none" for kNone.
const char* GpuConvName(GpuConv algorithm);

// The Winograd kernels' variant for a Winograd algorithm, nullopt for the
// others.
std::optional<WinogradVariant> WinogradVariantOf(GpuConv algorithm);

// Every algorithm that can run `shape`, fastest-first by the heuristic.
std::vector<GpuConv> ConvCandidates(const DeviceConvShape& shape);
// The heuristic's pick for `shape` (its batch included): the rule alone,
// cheap enough for every launch (ConvForBatch) ...
GpuConv HeuristicConv(const DeviceConvShape& shape);
// ... and with its reason, for plans.
std::pair<GpuConv, std::string> ChooseConv(const DeviceConvShape& shape);

// A convolution's algorithm under a policy, and why.
struct ConvChoice {
  GpuConv algorithm = GpuConv::kNone;
  std::string why;
  bool forced = false;  // the policy named it for this layer: autotune leaves it
};
// The algorithm `policy` names for `layer_name` (its per-layer entry, else
// a forced one) where it can run `shape`; otherwise, and for the auto and
// autotune modes, the heuristic's, with why the forced one could not run.
// INVALID_ARGUMENT for a name no backend has.
absl::StatusOr<ConvChoice> ChooseConv(const DeviceConvShape& shape, const AlgorithmPolicy& policy,
                                      const std::string& layer_name);

// Convolution workspace for `images` images at a time (0 for direct and
// implicit GEMM).
int64_t ConvWorkspaceFloats(GpuConv algorithm, const DeviceConvShape& shape, int images);

// Workspace a fully connected layer's SGEMM would use at `batch` to split
// K across blocks (sgemm_launch.h GemmWorkspace; 0 when it would not).
int64_t FullyConnectedWorkspaceFloats(const Graph& graph, const Layer& layer, int batch);

// A layer's parameters on the device.
struct DeviceLayer {
  GpuConv conv = GpuConv::kNone;
  // The heuristic chose `conv` at batch 1 (not a policy, not autotune): a
  // batch the heuristic gives another algorithm may run that instead
  // (ConvForBatch).
  bool by_heuristic = false;
  DeviceBuffer weights;  // conv [K,C/g,R,S] or Winograd-transformed; FC transposed [in, out]
  DeviceBuffer bias;
  DeviceBuffer scale_shift;  // an unfolded batch norm: scale [C] then shift [C]
  // The Winograd variant the heuristic gives larger batches where it is
  // not `conv` (WinogradAtLargerBatches), with its filters; kNone without.
  GpuConv larger_batch_winograd = GpuConv::kNone;
  DeviceBuffer larger_batch_weights;
};

// The Winograd variant the heuristic gives a layer at larger batches when
// it gave batch 1 (`batch1`) another: F(4x4,3x3) where a single image's
// plane is 16 or fewer of its tiles, so batch 1 got F(2x2,3x3). kNone
// where batch 1's pick holds (or is not Winograd).
GpuConv WinogradAtLargerBatches(const DeviceConvShape& batch1);

// Whether `device` may run another algorithm at other batch sizes than
// batch 1's (ConvForBatch): a layer the heuristic chose that is direct or
// im2col (implicit GEMM, same weights), or holds larger batches' Winograd.
bool PicksPerBatch(const DeviceLayer& device);

// The algorithm `device` runs at `shape`'s batch: its own, except that a
// layer the heuristic chose runs what the heuristic picks at this batch
// where the device holds its weights: implicit GEMM in place of direct or
// im2col (the same weights, no workspace), `larger_batch_winograd` with
// its own filters. Callers size the workspace for what this returns.
GpuConv ConvForBatch(const DeviceLayer& device, const DeviceConvShape& shape);

// The weights `device` runs `algorithm` (ConvForBatch's) with.
const DeviceBuffer& ConvWeights(const DeviceLayer& device, GpuConv algorithm);

// Uploads the filters of WinogradAtLargerBatches(batch1) into `device`
// when it names a variant (the heuristic's layers only); OK otherwise.
absl::Status UploadLargerBatchWinograd(const ExecutionPlan& plan, int index,
                                       const DeviceConvShape& batch1, DeviceLayer& device);

// Uploads layer `index` of `plan` for `conv` (kNone for non-convolutions).
absl::StatusOr<DeviceLayer> UploadLayer(const ExecutionPlan& plan, int index, GpuConv conv);

// Device buffers of a layer's inputs at run time.
struct LayerBuffers {
  std::vector<const float*> inputs;  // data inputs, in order
  const float* residual = nullptr;
  float* output = nullptr;
  float* workspace = nullptr;
  int64_t workspace_floats = 0;
};

// Enqueues layer `index` at `batch` on `stream`; `math` for its SGEMMs.
absl::Status LaunchLayer(const Graph& graph, int index, const DeviceLayer& device, int batch,
                         const LayerBuffers& buffers, cudaStream_t stream,
                         GemmMath math = GemmMath::kFp32);

}  // namespace convd::cuda

#endif  // CONVD_ENGINE_CUDA_CUDA_LAYERS_H_
