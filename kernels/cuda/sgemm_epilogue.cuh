// Where the SGEMM's results go and how they are written (sgemm_kernel.cuh,
// sgemm.cu): C's layout (GemmShape, images side by side included) and the
// epilogue (bias, residual, activation) applied on the way out, a value
// at a time or, where C's layout allows, four adjacent columns as one
// float4. Internal to kernels/cuda.
#ifndef CONVD_KERNELS_CUDA_SGEMM_EPILOGUE_CUH_
#define CONVD_KERNELS_CUDA_SGEMM_EPILOGUE_CUH_

#include <cstdint>

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

// Whether C's quads of columns (4c..4c+3, as the FP32 threads hold them)
// can be written with float4 stores, residual read likewise: C and the
// residual 16-byte aligned at this batch entry; every row, image and entry
// a multiple of 4 floats apart; images a multiple of 4 columns wide, so
// that each quad's first position is too. Per quad, VectorOffsetInC then
// checks that its four columns are stored side by side.
__device__ __forceinline__ bool QuadsAligned(const GemmShape& shape, const float* c,
                                             const float* residual) {
  const auto aligned = [](const float* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return aligned(c) && (residual == nullptr || aligned(residual)) && shape.ldc % 4 == 0 &&
         shape.stride_c % 4 == 0 && shape.image_columns % 4 == 0 && shape.image_stride % 4 == 0;
}

// Where C's (row, col..col+3) start when the four are stored side by side
// (col a multiple of 4, under QuadsAligned: 16-byte aligned too); -1 when
// they are not: past n, or past the end of an image's positions. Under
// QuadsAligned images are a multiple of 4 columns wide, so the four are in
// one image, at positions side by side: they are stored when the last is.
__device__ __forceinline__ int64_t VectorOffsetInC(const GemmShape& shape, int row, int col) {
  if (col + 3 >= shape.n) return -1;
  const int64_t last = OffsetInC(shape, row, col + 3);
  return last < 0 ? -1 : last - 3;
}

// WriteWithEpilogue for four columns side by side at `offset`
// (VectorOffsetInC's): one float4 store, and a float4 read of the residual.
__device__ __forceinline__ void WriteFourWithEpilogue(const float (&values)[4], int row, int col,
                                                      int64_t offset, const GemmEpilogue& epilogue,
                                                      const float* residual, float* c) {
  float4 r = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (residual != nullptr) r = *reinterpret_cast<const float4*>(residual + offset);
  const float rs[4] = {r.x, r.y, r.z, r.w};
  float out[4];
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    out[j] =
        WithEpilogue(values[j], row, col + j, epilogue, residual != nullptr ? &rs[j] : nullptr);
  }
  *reinterpret_cast<float4*>(c + offset) = make_float4(out[0], out[1], out[2], out[3]);
}

}  // namespace convd::cuda::sgemm

#endif  // CONVD_KERNELS_CUDA_SGEMM_EPILOGUE_CUH_
