// Where the SGEMM's results go and how they are written (sgemm_kernel.cuh,
// sgemm.cu): C's layout (GemmShape, images side by side included) and the
// epilogue (bias, residual, activation) applied on the way out, a value
// at a time or, where C's layout allows, two or four adjacent columns as
// one float2 or float4. Internal to kernels/cuda.
#ifndef CONVD_KERNELS_CUDA_SGEMM_EPILOGUE_CUH_
#define CONVD_KERNELS_CUDA_SGEMM_EPILOGUE_CUH_

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda::sgemm {

// Where C's (row, col) is stored, from C's batch entry (GemmShape's
// image_columns); -1 for a padding column.
__device__ __forceinline__ int64_t OffsetInC(const GemmShape& shape, int row, int col) {
  if (shape.image_columns == 0) return row * shape.ldc + col;
  const int image = col / shape.image_columns;
  const int position = col - image * shape.image_columns;
  return position < shape.ldc ? image * shape.image_stride + row * shape.ldc + position : -1;
}

// act(value + bias + residual) for C's (row, col); `residual_value` points
// at its residual, null without one.
__device__ __forceinline__ float WithEpilogue(float value, int row, int col,
                                              const GemmEpilogue& epilogue,
                                              const float* residual_value) {
  if (epilogue.bias != nullptr) value += epilogue.bias[epilogue.bias_per_row ? row : col];
  if (residual_value != nullptr) value += *residual_value;
  return DeviceActivate(value, epilogue.activation);
}

// C[row][col] = act(value + bias + residual), as every path writes C
// (`c` and `residual` at the batch entry's).
__device__ __forceinline__ void WriteWithEpilogue(float value, int row, int col,
                                                  const GemmShape& shape,
                                                  const GemmEpilogue& epilogue,
                                                  const float* residual, float* c) {
  const int64_t offset = OffsetInC(shape, row, col);
  if (offset < 0) return;
  c[offset] =
      WithEpilogue(value, row, col, epilogue, residual != nullptr ? residual + offset : nullptr);
}

// Whether C's vectors of kWidth (2 or 4) columns (kWidth * c ..
// kWidth * c + kWidth - 1, as the threads hold them: quads in FP32, pairs
// on the tensor cores) can be written with one float2 or float4 store
// each, the residual read likewise: C and the residual aligned to the
// vector at this batch entry; every row, image and entry a multiple of
// kWidth floats apart; images a multiple of kWidth columns wide, so that
// each vector's first position is too. Per vector, VectorOffsetInC then
// checks that its columns are stored side by side.
template <int kWidth>
__device__ __forceinline__ bool VectorsAligned(const GemmShape& shape, const float* c,
                                               const float* residual) {
  static_assert(kWidth == 2 || kWidth == 4);
  const auto aligned = [](const float* p) {
    return reinterpret_cast<uintptr_t>(p) % (kWidth * sizeof(float)) == 0;
  };
  return aligned(c) && (residual == nullptr || aligned(residual)) && shape.ldc % kWidth == 0 &&
         shape.stride_c % kWidth == 0 && shape.image_columns % kWidth == 0 &&
         shape.image_stride % kWidth == 0;
}

// Where C's (row, col..col+kWidth-1) start when they are stored side by
// side (col a multiple of kWidth, under VectorsAligned: aligned too); -1
// when they are not: past n, or past the end of an image's positions.
// Under VectorsAligned images are a multiple of kWidth columns wide, so
// the columns are in one image, at positions side by side: they are
// stored when the last is.
template <int kWidth>
__device__ __forceinline__ int64_t VectorOffsetInC(const GemmShape& shape, int row, int col) {
  if (col + kWidth - 1 >= shape.n) return -1;
  const int64_t last = OffsetInC(shape, row, col + kWidth - 1);
  return last < 0 ? -1 : last - (kWidth - 1);
}

// WriteWithEpilogue for kWidth columns side by side at `offset`
// (VectorOffsetInC's): one float2 or float4 store, and one such read of
// the residual.
template <int kWidth>
__device__ __forceinline__ void WriteVectorWithEpilogue(const float (&values)[kWidth], int row,
                                                        int col, int64_t offset,
                                                        const GemmEpilogue& epilogue,
                                                        const float* residual, float* c) {
  using Vector = std::conditional_t<kWidth == 4, float4, float2>;
  static_assert(sizeof(Vector) == kWidth * sizeof(float));
  float rs[kWidth] = {};
  if (residual != nullptr) {
    const Vector r = *reinterpret_cast<const Vector*>(residual + offset);
    memcpy(rs, &r, sizeof(r));
  }
  float out[kWidth];
#pragma unroll
  for (int j = 0; j < kWidth; ++j) {
    out[j] =
        WithEpilogue(values[j], row, col + j, epilogue, residual != nullptr ? &rs[j] : nullptr);
  }
  Vector stored;
  memcpy(&stored, out, sizeof(stored));
  *reinterpret_cast<Vector*>(c + offset) = stored;
}

// C[row][col..col+kWidth-1] = act(values + bias + residual), as a thread
// holding kWidth adjacent columns writes them: one vector store where
// `vectors_aligned` (VectorsAligned<kWidth>) and the columns are stored
// side by side (VectorOffsetInC), else each column of C's that lies in C.
template <int kWidth>
__device__ __forceinline__ void WriteColumnsWithEpilogue(const float (&values)[kWidth], int row,
                                                         int col, bool vectors_aligned,
                                                         const GemmShape& shape,
                                                         const GemmEpilogue& epilogue,
                                                         const float* residual, float* c) {
  const int64_t offset =
      vectors_aligned && row < shape.m ? VectorOffsetInC<kWidth>(shape, row, col) : -1;
  if (offset >= 0) {
    WriteVectorWithEpilogue<kWidth>(values, row, col, offset, epilogue, residual, c);
    return;
  }
#pragma unroll
  for (int j = 0; j < kWidth; ++j) {
    if (row < shape.m && col + j < shape.n) {
      WriteWithEpilogue(values[j], row, col + j, shape, epilogue, residual, c);
    }
  }
}

}  // namespace convd::cuda::sgemm

#endif  // CONVD_KERNELS_CUDA_SGEMM_EPILOGUE_CUH_
