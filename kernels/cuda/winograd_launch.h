// Winograd F(2x2,3x3) and F(4x4,3x3) convolution on the GPU (Lavin & Gray):
//
//   filters (at load, on the host):  U[xi,nu][k][c'] = (G g G^T)[xi,nu]
//   per tile t of m x m outputs:     V[xi,nu][c][t] = (B^T d B)[xi,nu]
//   alpha^2 batched GEMMs (ours):    M[xi,nu] = U[xi,nu] x V[xi,nu]   [K x T]
//   output transform + epilogue:     y = act(A^T M A + bias + residual)
//
// alpha = m + 2; c' runs over a group's C/groups channels, and with
// groups the products are per group (each group's K/groups rows of U
// against its C/groups rows of V). Stride 1, dilation 1, 3x3 filters (the
// others are im2col's). Tiles cover P x Q in m x m steps; edge tiles read
// zeros past the input and write only the outputs that exist.
#ifndef CONVD_KERNELS_CUDA_WINOGRAD_LAUNCH_H_
#define CONVD_KERNELS_CUDA_WINOGRAD_LAUNCH_H_

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "kernels/cuda/conv_launch.h"
#include "kernels/cuda/device_params.h"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda {

// True when F(m x m, 3 x 3) can run `shape` (m is 2 or 4).
bool WinogradApplies(const DeviceConvShape& shape);

// Host: `shape`'s weights [K, C', 3, 3] -> transformed [alpha^2, K, C']
// (alpha^2 * K * C' floats), computed in double and rounded once; C' is
// C/groups.
std::vector<float> WinogradTransformFilters(int m, const DeviceConvShape& shape,
                                            const float* weights);

// Workspace (floats) to transform `images` images at a time; at least
// WinogradWorkspaceFloats(m, shape, 1) is required.
int64_t WinogradWorkspaceFloats(int m, const DeviceConvShape& shape, int images);

// `math`: the arithmetic of the alpha^2 element-wise SGEMMs.
cudaError_t LaunchConvWinograd(int m, const DeviceConvShape& shape, const float* input,
                               const float* transformed_filters, const ConvEpilogue& epilogue,
                               float* workspace, int64_t workspace_floats, float* output,
                               cudaStream_t stream, GemmMath math = GemmMath::kFp32);

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_WINOGRAD_LAUNCH_H_
