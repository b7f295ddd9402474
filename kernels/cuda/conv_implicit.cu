// Implicit-GEMM convolution (conv_launch.h): the im2col product without
// the unrolled matrix. The SGEMM's kernel (sgemm_kernel.cuh) runs with a B
// source that reads each patch element from the input as it fills its
// shared tile, so the [C/g*R*S, P*Q] matrix is never written to or read
// back from memory and no workspace is needed.
#include <climits>

#include "kernels/cuda/conv_launch.h"
#include "kernels/cuda/sgemm_kernel.cuh"

namespace convd::cuda {
namespace {

using sgemm::kBlockK;

// A column past N gets this origin: far enough out that no filter offset
// (at most INT_MAX / 2, checked at launch) brings it back into the input.
constexpr int kOutside = INT_MIN / 2;

bool OffsetsFit(const DeviceConvShape& s) {
  return int64_t{s.r - 1} * s.dilation_h < INT_MAX / 2 &&
         int64_t{s.s - 1} * s.dilation_w < INT_MAX / 2;
}

// One group's patches as the B of its product (GroupGemm: the images side
// by side, padded_plane_out columns each):
// B[(c, r, s)][(image, p, q)] = input[image][c][p*stride_h - pad_top +
// r*dilation_h][q*stride_w - pad_left + s*dilation_w], zero in the padding
// of the input and in the columns past each image's P*Q. `input` points at
// the group's first channel of image 0.
struct ConvPatchB {
  const float* input;
  DeviceConvShape s;
  // kBlockK rows as (c, r, s) digits, computed on the host (ForShape).
  int step_channel, step_row, step_column;
  // Float4 stores of C want each 4 accumulators in an aligned register
  // quad for the whole kernel, which made the 128x128 kernel (64
  // accumulators a thread) spill this loader's state (10 local loads a K
  // step); the smaller tiles hold 16-32 and keep it in registers.
  template <int kTileRows, int kTileColumns>
  static constexpr bool kQuadStores = (kTileRows * kTileColumns < 128 * 128);

  static ConvPatchB ForShape(const float* input, const DeviceConvShape& s) {
    const int filter_size = s.r * s.s;
    return {input, s, kBlockK / filter_size, kBlockK % filter_size / s.s, kBlockK % s.s};
  }

  // A thread's 4 columns are fixed for the whole product, and are in one
  // image (they start at a multiple of 4, as every image does); only the row
  // moves, kBlockK at a time, so its (c, r, s) advance by a constant step
  // with carries instead of being divided out on every fetch. Registers
  // are what the SGEMM is short of (128 a thread): the loader keeps the
  // row only as its digits, and the members copied from the kernel's
  // parameters are read from there, not held.
  struct Loader {
    const float* image;   // channel 0 of the group in this image
    int top[4], left[4];  // each column's patch origin; far outside for columns past N
    int channel, filter_row, filter_column;  // the next row as (c, r, s)
    int channels, h, w, r, s, dilation_h, dilation_w;
    int step_channel, step_row, step_column;

    __device__ __forceinline__ void Fetch(float (&values)[4]) {
      if (channel < channels) {
        const float* plane = image + int64_t{channel} * h * w;
        const int dy = filter_row * dilation_h, dx = filter_column * dilation_w;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int y = top[i] + dy, x = left[i] + dx;
          // Unsigned comparisons: negative coordinates are out too.
          values[i] = static_cast<unsigned>(y) < static_cast<unsigned>(h) &&
                              static_cast<unsigned>(x) < static_cast<unsigned>(w)
                          ? __ldg(plane + int64_t{y} * w + x)
                          : 0.0f;
        }
      } else {
#pragma unroll
        for (int i = 0; i < 4; ++i) values[i] = 0.0f;
      }
      // Each digit stays below its radix after the step, so one carry each.
      filter_column += step_column;
      const int carry_column = filter_column >= s;
      filter_column -= carry_column * s;
      filter_row += step_row + carry_column;
      const int carry_row = filter_row >= r;
      filter_row -= carry_row * r;
      channel += step_channel + carry_row;
    }
  };

  __device__ __forceinline__ Loader Bind(const GemmShape& shape, int /*z*/, int first_row,
                                         int column) const {
    Loader loader;
    const int image = column / shape.image_columns;
    const int first_position = column - image * shape.image_columns;
    loader.image = input + int64_t{image} * s.c * s.h * s.w;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int position = first_position + i;
      const int p = position / s.q, q = position - p * s.q;
      const bool live = column + i < shape.n && position < s.plane_out();
      loader.top[i] = live ? p * s.stride_h - s.pad_top : kOutside;
      loader.left[i] = live ? q * s.stride_w - s.pad_left : kOutside;
    }
    const int filter_size = s.r * s.s;
    loader.channel = first_row / filter_size;
    loader.filter_row = first_row % filter_size / s.s;
    loader.filter_column = first_row % s.s;
    loader.step_channel = step_channel, loader.step_row = step_row;
    loader.step_column = step_column;
    loader.channels = s.c_per_group();
    loader.h = s.h, loader.w = s.w, loader.r = s.r, loader.s = s.s;
    loader.dilation_h = s.dilation_h, loader.dilation_w = s.dilation_w;
    return loader;
  }
};

}  // namespace

cudaError_t LaunchConvImplicitGemm(const DeviceConvShape& s, const float* input,
                                   const float* weights, const ConvEpilogue& epilogue,
                                   float* output, cudaStream_t stream, GemmMath math) {
  if (!ValidConvShape(s) || !OffsetsFit(s) || !GroupGemmFits(s, s.n) || input == nullptr ||
      weights == nullptr || output == nullptr) {
    return cudaErrorInvalidValue;
  }
  if (math != GemmMath::kFp32 && math != GemmMath::kTf32 && math != GemmMath::kFp16) {
    return cudaErrorInvalidValue;
  }
  const int kg = s.k_per_group();
  const int64_t plane = s.plane_out();
  const GemmShape gemm = GroupGemm(s, s.n);  // B's layout unused
  for (int g = 0; g < s.groups; ++g) {
    const float* group_weights = weights + int64_t{g} * kg * s.gemm_k();
    const int64_t output_offset = int64_t{g} * kg * plane;
    const auto patches = ConvPatchB::ForShape(input + int64_t{g} * s.c_per_group() * s.h * s.w, s);
    if (cudaError_t e = sgemm::LaunchTiles(
            gemm, group_weights, sgemm::Aligned(group_weights, gemm.lda, 0), patches,
            output + output_offset, GroupEpilogue(s, epilogue, g, output_offset), stream, math);
        e != cudaSuccess) {
      return e;
    }
  }
  return cudaSuccess;
}

}  // namespace convd::cuda
