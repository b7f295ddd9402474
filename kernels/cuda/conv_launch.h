// Convolution on the GPU, three of the algorithms (Winograd is separate):
//
// - im2col + GEMM: per group, the input patches of a chunk of images are
//   unrolled into workspace as one [C/g*R*S, images x P*Q] matrix (the
//   images side by side), and our SGEMM multiplies the group's filters
//   [K/g, C/g*R*S] by it, straight into the NCHW output, with bias,
//   residual and activation in its epilogue. Where the unrolling is the
//   identity (1x1, stride 1, no padding) the SGEMM reads the input in place,
//   one product per image, and no workspace is needed.
// - implicit GEMM: the same product by the same SGEMM kernel, whose loads
//   gather the patches from the input as it tiles them: no unrolled matrix
//   in memory, no workspace, all images in one launch per group.
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

// True when `shape` is a convolution the launchers can run: positive sizes,
// groups dividing C and K, output size (p, q) filled in.
bool ValidConvShape(const DeviceConvShape& shape);

// Group g's product over `images` images, as the SGEMM-backed launchers
// run it (but for im2col's identity unrolling): the group's filters
// [K/g, C/g*R*S] (A) times the images' unrolled patches side by side,
// [C/g*R*S, images x padded_plane_out] (B, laid out as im2col unrolls
// them; implicit GEMM gathers them instead), into the group's output
// channels of each image (C's columns as images, GemmShape image_columns:
// one image every K*P*Q). One product, so that tiles run across images
// instead of padding each image's plane to whole tiles (a 13x13 plane
// fills 169 of 256 columns).
GemmShape GroupGemm(const DeviceConvShape& shape, int images);
// Whether GroupGemm(shape, images) has sizes an int holds.
bool GroupGemmFits(const DeviceConvShape& shape, int images);

// The SGEMM epilogue of group `group`'s product, whose output starts
// `output_offset` floats into the output (the group's first channel): its
// slice of the bias and of the residual. For the SGEMM-backed launchers.
GemmEpilogue GroupEpilogue(const DeviceConvShape& shape, const ConvEpilogue& epilogue, int group,
                           int64_t output_offset);

// True when im2col's unrolled image is the image itself.
bool Im2colIsIdentity(const DeviceConvShape& shape);

// Workspace (floats) that lets im2col unroll `images` images at a time; at
// least Im2colWorkspaceFloats(shape, 1) is required (0 where the unrolling
// is the identity).
int64_t Im2colWorkspaceFloats(const DeviceConvShape& shape, int images);
// What the SGEMM of `images` images at a time would take beyond that to
// split K, where SplitKFor splits it (sgemm_launch.h: a product too small
// to fill the device); 0 where it does not. LaunchConvIm2col uses whatever
// the unrolled images leave of the workspace.
int64_t Im2colSplitKFloats(const DeviceConvShape& shape, int images);

// `math`: the arithmetic of the SGEMM (sgemm_launch.h).
cudaError_t LaunchConvIm2col(const DeviceConvShape& shape, const float* input,
                             const float* weights, const ConvEpilogue& epilogue,
                             float* workspace, int64_t workspace_floats, float* output,
                             cudaStream_t stream, GemmMath math = GemmMath::kFp32);

// `math` as LaunchConvIm2col's. Batches whose GroupGemm fits.
cudaError_t LaunchConvImplicitGemm(const DeviceConvShape& shape, const float* input,
                                   const float* weights, const ConvEpilogue& epilogue,
                                   float* output, cudaStream_t stream,
                                   GemmMath math = GemmMath::kFp32);

cudaError_t LaunchConvDirect(const DeviceConvShape& shape, const float* input,
                             const float* weights, const ConvEpilogue& epilogue, float* output,
                             cudaStream_t stream);

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_CONV_LAUNCH_H_
