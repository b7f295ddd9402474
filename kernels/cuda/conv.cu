// im2col + GEMM and direct convolution (conv_launch.h).
#include <algorithm>
#include <climits>

#include "kernels/cuda/conv_launch.h"
#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda {
namespace {

// col[crs][image][position] for `images` images starting at `input`,
// channels of `group`: GroupGemm's B, each image's P*Q positions padded to
// padded_plane_out (zeros). Consecutive threads write consecutive positions.
__global__ void Im2colKernel(const float* __restrict__ input, DeviceConvShape s, int group,
                             int images, float* __restrict__ col) {
  const int64_t plane = s.plane_out();
  const int64_t padded_plane = s.padded_plane_out();
  const int64_t row_floats = images * padded_plane;
  const int64_t total = s.gemm_k() * row_floats;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t position = i % padded_plane;
    const int image = static_cast<int>(i % row_floats / padded_plane);
    const int64_t crs = i / row_floats;
    float value = 0.0f;
    if (position < plane) {
      const int q = static_cast<int>(position % s.q);
      const int p = static_cast<int>(position / s.q);
      const int sx = static_cast<int>(crs % s.s);
      const int ry = static_cast<int>((crs / s.s) % s.r);
      const int channel = static_cast<int>(crs / (int64_t{s.r} * s.s)) + group * s.c_per_group();
      const int ih = p * s.stride_h - s.pad_top + ry * s.dilation_h;
      const int iw = q * s.stride_w - s.pad_left + sx * s.dilation_w;
      if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w) {
        value = input[((int64_t{image} * s.c + channel) * s.h + ih) * s.w + iw];
      }
    }
    col[i] = value;
  }
}

__global__ void ConvDirectKernel(const float* __restrict__ input, const float* __restrict__ weights,
                                 DeviceConvShape s, ConvEpilogue epilogue,
                                 float* __restrict__ output) {
  const int64_t total = int64_t{s.n} * s.k * s.p * s.q;
  const int cg = s.c_per_group(), kg = s.k_per_group();
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int q = static_cast<int>(i % s.q);
    const int p = static_cast<int>((i / s.q) % s.p);
    const int k = static_cast<int>((i / (int64_t{s.p} * s.q)) % s.k);
    const int n = static_cast<int>(i / (int64_t{s.k} * s.p * s.q));
    const int first_channel = (k / kg) * cg;
    const float* filter = weights + int64_t{k} * cg * s.r * s.s;
    float sum = 0.0f;
    for (int c = 0; c < cg; ++c) {
      const float* plane = input + (int64_t{n} * s.c + first_channel + c) * s.h * s.w;
      for (int ry = 0; ry < s.r; ++ry) {
        const int ih = p * s.stride_h - s.pad_top + ry * s.dilation_h;
        if (ih < 0 || ih >= s.h) continue;
        for (int sx = 0; sx < s.s; ++sx) {
          const int iw = q * s.stride_w - s.pad_left + sx * s.dilation_w;
          if (iw < 0 || iw >= s.w) continue;
          sum = fmaf(__ldg(&plane[int64_t{ih} * s.w + iw]),
                     __ldg(&filter[(int64_t{c} * s.r + ry) * s.s + sx]), sum);
        }
      }
    }
    if (epilogue.bias != nullptr) sum += epilogue.bias[k];
    if (epilogue.residual != nullptr) sum += epilogue.residual[i];
    output[i] = DeviceActivate(sum, epilogue.activation);
  }
}

// The identity unrolling's product: group g's filters times each image's
// channels of the group in place ([C/g, H*W], one image per batch entry).
GemmShape IdentityGroupGemm(const DeviceConvShape& s, int images) {
  GemmShape gemm;
  gemm.m = s.k_per_group();
  gemm.n = static_cast<int>(s.plane_out());
  gemm.k = s.c_per_group();
  gemm.lda = s.gemm_k();
  gemm.ldb = gemm.ldc = s.plane_out();
  gemm.stride_b = int64_t{s.c} * s.plane_out();
  gemm.stride_c = int64_t{s.k} * s.plane_out();
  gemm.batch = images;
  return gemm;
}

}  // namespace

bool ValidConvShape(const DeviceConvShape& s) {
  return s.n > 0 && s.c > 0 && s.h > 0 && s.w > 0 && s.k > 0 && s.r > 0 && s.s > 0 &&
         s.stride_h > 0 && s.stride_w > 0 && s.dilation_h > 0 && s.dilation_w > 0 && s.groups > 0 &&
         s.c % s.groups == 0 && s.k % s.groups == 0 && s.p > 0 && s.q > 0 && s.pad_top >= 0 &&
         s.pad_left >= 0;
}

GemmEpilogue GroupEpilogue(const DeviceConvShape& shape, const ConvEpilogue& epilogue, int group,
                           int64_t output_offset) {
  GemmEpilogue gemm_epilogue;
  gemm_epilogue.bias =
      epilogue.bias == nullptr ? nullptr : epilogue.bias + group * shape.k_per_group();
  gemm_epilogue.bias_per_row = true;
  gemm_epilogue.residual =
      epilogue.residual == nullptr ? nullptr : epilogue.residual + output_offset;
  gemm_epilogue.activation = epilogue.activation;
  return gemm_epilogue;
}

bool GroupGemmFits(const DeviceConvShape& s, int images) {
  return int64_t{images} * s.padded_plane_out() <= INT_MAX && s.gemm_k() <= INT_MAX;
}

GemmShape GroupGemm(const DeviceConvShape& s, int images) {
  GemmShape gemm;
  gemm.m = s.k_per_group();
  gemm.n = static_cast<int>(images * s.padded_plane_out());
  gemm.k = static_cast<int>(s.gemm_k());
  gemm.lda = s.gemm_k();
  gemm.ldb = gemm.n;
  gemm.ldc = s.plane_out();
  gemm.image_columns = static_cast<int>(s.padded_plane_out());
  gemm.image_stride = int64_t{s.k} * s.plane_out();
  return gemm;
}

bool Im2colIsIdentity(const DeviceConvShape& s) {
  return s.r == 1 && s.s == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_left == 0 && s.p == s.h && s.q == s.w;
}

int64_t Im2colWorkspaceFloats(const DeviceConvShape& shape, int images) {
  if (Im2colIsIdentity(shape)) return 0;
  return int64_t{images} * shape.gemm_k() * shape.padded_plane_out();
}

namespace {

// The product im2col runs per group for `images` images: the input in
// place when the unrolling is the identity, else the images' unrolled
// patches side by side.
GemmShape Im2colGemm(const DeviceConvShape& shape, int images) {
  return Im2colIsIdentity(shape) ? IdentityGroupGemm(shape, images) : GroupGemm(shape, images);
}

}  // namespace

int64_t Im2colSplitKFloats(const DeviceConvShape& shape, int images) {
  const GemmShape gemm = Im2colGemm(shape, images);
  return SplitKWorkspaceFloats(gemm, SplitKFor(gemm));
}

cudaError_t LaunchConvIm2col(const DeviceConvShape& s, const float* input, const float* weights,
                             const ConvEpilogue& epilogue, float* workspace,
                             int64_t workspace_floats, float* output, cudaStream_t stream,
                             GemmMath math) {
  if (!ValidConvShape(s) || input == nullptr || weights == nullptr || output == nullptr) {
    return cudaErrorInvalidValue;
  }
  const int kg = s.k_per_group();
  const int64_t plane = s.plane_out();
  const int64_t output_image = int64_t{s.k} * plane;
  if (Im2colIsIdentity(s)) {
    // A 1x1, stride-1, unpadded layer's unrolled image is the image itself
    // ([C/g, H*W] per group): the SGEMM reads the input in place, every
    // image in one batched launch; a batch of 1 may split K in the
    // workspace (which may be empty).
    const GemmShape gemm = Im2colGemm(s, s.n);
    for (int g = 0; g < s.groups; ++g) {
      const int64_t offset = int64_t{g} * kg * plane;
      if (cudaError_t e = LaunchSgemm(gemm, weights + int64_t{g} * kg * s.gemm_k(),
                                      input + int64_t{g} * s.c_per_group() * plane, output + offset,
                                      GroupEpilogue(s, epilogue, g, offset), stream, math,
                                      GemmWorkspace{workspace, workspace_floats});
          e != cudaSuccess) {
        return e;
      }
    }
    return cudaSuccess;
  }
  const int64_t per_image = Im2colWorkspaceFloats(s, 1);
  if (workspace == nullptr || workspace_floats < per_image) return cudaErrorInvalidValue;
  const int chunk = static_cast<int>(std::min<int64_t>(s.n, workspace_floats / per_image));
  if (!GroupGemmFits(s, chunk)) return cudaErrorInvalidValue;
  for (int n0 = 0; n0 < s.n; n0 += chunk) {
    const int images = std::min(chunk, s.n - n0);
    const float* chunk_input = input + int64_t{n0} * s.c * s.h * s.w;
    for (int g = 0; g < s.groups; ++g) {
      CONVD_LAUNCH(GridBlocks(images * per_image), kThreadsPerBlock, stream, Im2colKernel,
                   chunk_input, s, g, images, workspace);
      if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
      const GemmShape gemm = Im2colGemm(s, images);
      const int64_t offset = int64_t{n0} * output_image + int64_t{g} * kg * plane;
      // What the unrolled images leave of the workspace lets a product too
      // small for the device split K (sgemm_launch.h GemmWorkspace).
      const int64_t unrolled = int64_t{images} * per_image;
      const GemmWorkspace rest{workspace + unrolled, workspace_floats - unrolled};
      if (cudaError_t e =
              LaunchSgemm(gemm, weights + int64_t{g} * kg * s.gemm_k(), workspace, output + offset,
                          GroupEpilogue(s, epilogue, g, offset), stream, math, rest);
          e != cudaSuccess) {
        return e;
      }
    }
  }
  return cudaSuccess;
}

cudaError_t LaunchConvDirect(const DeviceConvShape& s, const float* input, const float* weights,
                             const ConvEpilogue& epilogue, float* output, cudaStream_t stream) {
  if (!ValidConvShape(s) || input == nullptr || weights == nullptr || output == nullptr) {
    return cudaErrorInvalidValue;
  }
  const int64_t total = int64_t{s.n} * s.k * s.p * s.q;
  CONVD_LAUNCH(GridBlocks(total), kThreadsPerBlock, stream, ConvDirectKernel, input, weights, s,
               epilogue, output);
  return cudaGetLastError();
}

}  // namespace convd::cuda
