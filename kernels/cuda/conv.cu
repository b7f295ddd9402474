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

// A grid over rows (blockIdx.y, striding by gridDim.y) and their positions
// (x): what is per row, such as an unrolled row's channel and filter tap
// or a direct output plane's image and filter, is the block's, so each
// thread divides out only its position's p and q, in 32 bits. (A flat
// 64-bit index made every element pay several 64-bit divisions, hundreds
// of instructions: the unrolling was bound by them, not by memory.)
dim3 RowsGrid(int64_t rows, int64_t positions) {
  const int64_t x = (positions + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return dim3(static_cast<unsigned>(std::clamp<int64_t>(x, 1, 65535)),
              static_cast<unsigned>(std::clamp<int64_t>(rows, 1, 65535)));
}

// col[crs][image][position] for `images` images starting at `input`,
// channels of `group`: GroupGemm's B, each image's P*Q positions padded to
// padded_plane_out (zeros). A row per (crs, image); consecutive threads
// write consecutive positions.
__global__ void Im2colKernel(const float* __restrict__ input, DeviceConvShape s, int group,
                             int images, float* __restrict__ col) {
  const int plane = static_cast<int>(s.plane_out());
  const int padded_plane = static_cast<int>(s.padded_plane_out());
  const int64_t rows = s.gemm_k() * images;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int crs = static_cast<int>(row / images);
    const int image = static_cast<int>(row - int64_t{crs} * images);
    const int filter_size = s.r * s.s;
    const int channel = crs / filter_size + group * s.c_per_group();
    const int tap = crs % filter_size;
    const int row_offset = tap / s.s * s.dilation_h - s.pad_top;
    const int column_offset = tap % s.s * s.dilation_w - s.pad_left;
    const float* in = input + (int64_t{image} * s.c + channel) * s.h * s.w;
    float* out = col + row * padded_plane;
    for (int position = blockIdx.x * blockDim.x + threadIdx.x; position < padded_plane;
         position += gridDim.x * blockDim.x) {
      float value = 0.0f;
      if (position < plane) {
        const int p = position / s.q, q = position - p * s.q;
        const int ih = p * s.stride_h + row_offset, iw = q * s.stride_w + column_offset;
        // Unsigned comparisons: negative coordinates are out too.
        if (static_cast<unsigned>(ih) < static_cast<unsigned>(s.h) &&
            static_cast<unsigned>(iw) < static_cast<unsigned>(s.w)) {
          value = __ldg(in + int64_t{ih} * s.w + iw);
        }
      }
      out[position] = value;
    }
  }
}

// A row per (image, filter k) output plane.
__global__ void ConvDirectKernel(const float* __restrict__ input, const float* __restrict__ weights,
                                 DeviceConvShape s, ConvEpilogue epilogue,
                                 float* __restrict__ output) {
  const int plane = static_cast<int>(s.plane_out());
  const int64_t rows = int64_t{s.n} * s.k;
  const int cg = s.c_per_group(), kg = s.k_per_group();
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int n = static_cast<int>(row / s.k);
    const int k = static_cast<int>(row - int64_t{n} * s.k);
    const int first_channel = (k / kg) * cg;
    const float* filter = weights + int64_t{k} * cg * s.r * s.s;
    const float* image = input + (int64_t{n} * s.c + first_channel) * s.h * s.w;
    const float bias = epilogue.bias != nullptr ? epilogue.bias[k] : 0.0f;
    for (int position = blockIdx.x * blockDim.x + threadIdx.x; position < plane;
         position += gridDim.x * blockDim.x) {
      const int p = position / s.q, q = position - p * s.q;
      float sum = 0.0f;
      for (int c = 0; c < cg; ++c) {
        const float* channel_plane = image + int64_t{c} * s.h * s.w;
        for (int ry = 0; ry < s.r; ++ry) {
          const int ih = p * s.stride_h - s.pad_top + ry * s.dilation_h;
          if (ih < 0 || ih >= s.h) continue;
          for (int sx = 0; sx < s.s; ++sx) {
            const int iw = q * s.stride_w - s.pad_left + sx * s.dilation_w;
            if (iw < 0 || iw >= s.w) continue;
            sum = fmaf(__ldg(&channel_plane[int64_t{ih} * s.w + iw]),
                       __ldg(&filter[(c * s.r + ry) * s.s + sx]), sum);
          }
        }
      }
      sum += bias;
      const int64_t at = row * plane + position;
      if (epilogue.residual != nullptr) sum += epilogue.residual[at];
      output[at] = DeviceActivate(sum, epilogue.activation);
    }
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
      CONVD_LAUNCH(RowsGrid(s.gemm_k() * images, s.padded_plane_out()), kThreadsPerBlock, stream,
                   Im2colKernel, chunk_input, s, g, images, workspace);
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
  // Positions are 32-bit in the kernel.
  if (!ValidConvShape(s) || s.plane_out() > INT_MAX || input == nullptr || weights == nullptr ||
      output == nullptr) {
    return cudaErrorInvalidValue;
  }
  CONVD_LAUNCH(RowsGrid(int64_t{s.n} * s.k, s.plane_out()), kThreadsPerBlock, stream,
               ConvDirectKernel, input, weights, s, epilogue, output);
  return cudaGetLastError();
}

}  // namespace convd::cuda
