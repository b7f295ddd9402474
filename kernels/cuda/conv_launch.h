// Convolution on the GPU, two of the algorithms (Winograd is separate):
//
// - im2col + GEMM: per group, the input patches of a chunk of images are
//   unrolled into workspace as [C/g*R*S, P*Q] matrices, and our SGEMM
//   multiplies the group's filters [K/g, C/g*R*S] by them, straight into the
//   NCHW output, with bias, residual and activation in its epilogue.
// - direct: one thread per output element; for LeNet-sized layers, where
//   unrolling costs more than it saves.
//
// input [N, C, H, W], weights [K, C/g, R, S], bias [K] or null, residual
// [N, K, P, Q] or null, output [N, K, P, Q]; all device pointers.
#ifndef CONVD_KERNELS_CUDA_CONV_LAUNCH_H_
#define CONVD_KERNELS_CUDA_CONV_LAUNCH_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/device_activation.h"
#include "kernels/cuda/device_params.h"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda {

struct ConvEpilogue {
  const float* bias = nullptr;
  const float* residual = nullptr;
  DeviceActivationFunction activation;
};

// Workspace (floats) that lets im2col unroll `images` images at a time; at
// least Im2colWorkspaceFloats(shape, 1) is required.
int64_t Im2colWorkspaceFloats(const DeviceConvShape& shape, int images);
// What the SGEMM of one image (one at a time) would take beyond that to
// split K, where SplitKFor splits it (sgemm_launch.h); 0 where it does not.
// LaunchConvIm2col uses whatever the unrolled images leave of the workspace.
int64_t Im2colSplitKFloats(const DeviceConvShape& shape);

// `math`: the arithmetic of the SGEMM (sgemm_launch.h).
cudaError_t LaunchConvIm2col(const DeviceConvShape& shape, const float* input,
                             const float* weights, const ConvEpilogue& epilogue,
                             float* workspace, int64_t workspace_floats, float* output,
                             cudaStream_t stream, GemmMath math = GemmMath::kFp32);

cudaError_t LaunchConvDirect(const DeviceConvShape& shape, const float* input,
                             const float* weights, const ConvEpilogue& epilogue, float* output,
                             cudaStream_t stream);

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_CONV_LAUNCH_H_
