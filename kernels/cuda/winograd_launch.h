// Winograd F(2x2,3x3), F(4x4,3x3), F(2x2,5x5) and F(4x4,5x5) convolution on the GPU
// (Lavin & Gray):
//
//   filters (at load, on the host):  U[xi,nu][k][c'] = (G g G^T)[xi,nu]
//   per tile t of m x m outputs:     V[xi,nu][c][t] = (B^T d B)[xi,nu]
//   alpha^2 batched GEMMs (ours):    M[xi,nu] = U[xi,nu] x V[xi,nu]   [K x T]
//   output transform + epilogue:     y = act(A^T M A + bias + residual)
//
// alpha = m + r - 1 for m x m outputs of an r x r filter; c' runs over a
// group's C/groups channels, and with groups the products are per group
// (each group's K/groups rows of U against its C/groups rows of V). Stride
// 1, dilation 1. Tiles cover P x Q in m x m steps; edge tiles read zeros
// past the input and write only the outputs that exist.
#ifndef CONVD_KERNELS_CUDA_WINOGRAD_LAUNCH_H_
#define CONVD_KERNELS_CUDA_WINOGRAD_LAUNCH_H_

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "kernels/cuda/conv_launch.h"
#include "kernels/cuda/device_params.h"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda {

// F(m x m, r x r) for the (m, r) pairs there are transforms for
// (kernels/winograd_transforms.h).
enum class WinogradVariant { kF23, kF43, kF25, kF45 };
inline constexpr WinogradVariant kWinogradVariants[] = {
    WinogradVariant::kF23, WinogradVariant::kF43, WinogradVariant::kF25, WinogradVariant::kF45};
// m: outputs per tile side; r: the filter's side; "F(2x2,5x5)" for messages.
int WinogradOutputTile(WinogradVariant variant);
int WinogradFilterSide(WinogradVariant variant);
const char* WinogradVariantName(WinogradVariant variant);

// True when `variant` can run `shape`: an r x r filter, stride 1, dilation 1.
bool WinogradApplies(WinogradVariant variant, const DeviceConvShape& shape);

// Host: `shape`'s weights [K, C', r, r] -> transformed [alpha^2, K, C']
// (alpha^2 * K * C' floats), computed in double and rounded once; C' is
// C/groups. `variant` must apply to `shape` (else the result is empty).
std::vector<float> WinogradTransformFilters(WinogradVariant variant, const DeviceConvShape& shape,
                                            const float* weights);

// Workspace (floats) to transform `images` images at a time; at least
// WinogradWorkspaceFloats(variant, shape, 1) is required.
int64_t WinogradWorkspaceFloats(WinogradVariant variant, const DeviceConvShape& shape, int images);

// `math`: the arithmetic of the alpha^2 element-wise SGEMMs.
// cudaErrorInvalidValue where `variant` does not apply to `shape`.
cudaError_t LaunchConvWinograd(WinogradVariant variant, const DeviceConvShape& shape,
                               const float* input, const float* transformed_filters,
                               const ConvEpilogue& epilogue, float* workspace,
                               int64_t workspace_floats, float* output, cudaStream_t stream,
                               GemmMath math = GemmMath::kFp32);

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_WINOGRAD_LAUNCH_H_
