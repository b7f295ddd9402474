// The GPU side of each layer for CudaExecutor: which algorithm runs a
// convolution and why, the layer's weights in device memory in that
// algorithm's layout, and the launch of one layer on a stream.
// Internal to engine/cuda.
#ifndef CONVD_ENGINE_CUDA_CUDA_LAYERS_H_
#define CONVD_ENGINE_CUDA_CUDA_LAYERS_H_

#include <cuda_runtime.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "engine/planner.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_params.h"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda {

enum class GpuConv { kNone, kIm2col, kDirect, kWinogradF23, kWinogradF43 };

// "cuda_im2col", "cuda_direct", "cuda_winograd_f23", "cuda_winograd_f43".
const char* GpuConvName(GpuConv algorithm);

// Every algorithm that can run `shape`, fastest-first by the heuristic.
std::vector<GpuConv> ConvCandidates(const DeviceConvShape& shape);
// The heuristic's pick and its reason.
std::pair<GpuConv, std::string> ChooseConv(const DeviceConvShape& shape);

// Convolution workspace for `images` images at a time (0 for direct).
int64_t ConvWorkspaceFloats(GpuConv algorithm, const DeviceConvShape& shape, int images);

// Workspace a fully connected layer's SGEMM would use at `batch` to split
// K across blocks (sgemm_launch.h GemmWorkspace; 0 when it would not).
int64_t FullyConnectedWorkspaceFloats(const Graph& graph, const Layer& layer, int batch);

// A layer's parameters on the device.
struct DeviceLayer {
  GpuConv conv = GpuConv::kNone;
  DeviceBuffer weights;  // conv [K,C/g,R,S] or Winograd-transformed; FC transposed [in, out]
  DeviceBuffer bias;
  DeviceBuffer scale_shift;  // an unfolded batch norm: scale [C] then shift [C]
};

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
