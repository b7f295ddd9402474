// SGEMM: 128x128 block tiles, K in steps of 8, 256 threads each computing an
// 8x8 block of C in registers (two 4x4 quadrants 64 rows/columns apart, so
// shared-memory reads are float4 and conflict-free). Tiles are double
// buffered: the next K step is fetched from global memory into registers
// while the current one is multiplied, then stored to the other shared
// buffer, with one barrier per step. Global loads are float4 when the rows
// allow it (leading dimensions and offsets multiples of 4), scalar with
// bounds checks at the edges. The epilogue (bias, residual, activation) is
// applied on the way out.
#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda {
namespace {

constexpr int kBlockM = 128, kBlockN = 128, kBlockK = 8;
constexpr int kThreads = 256;

template <bool kVectorA, bool kVectorB>
__global__ __launch_bounds__(kThreads) void SgemmKernel(GemmShape shape,
                                                       const float* __restrict__ a,
                                                       const float* __restrict__ b,
                                                       float* __restrict__ c,
                                                       GemmEpilogue epilogue) {
  __shared__ __align__(16) float a_tile[2][kBlockK][kBlockM];  // A transposed: [k][m]
  __shared__ __align__(16) float b_tile[2][kBlockK][kBlockN];
  const int m = shape.m, n = shape.n, k = shape.k;
  a += blockIdx.z * shape.stride_a;
  b += blockIdx.z * shape.stride_b;
  c += blockIdx.z * shape.stride_c;
  const float* residual =
      epilogue.residual == nullptr ? nullptr : epilogue.residual + blockIdx.z * shape.stride_c;
  const int tid = threadIdx.x;
  const int block_row = blockIdx.y * kBlockM;
  const int block_col = blockIdx.x * kBlockN;

  // Loaders: each thread fetches 4 consecutive K of one A row, and 4
  // consecutive columns of one B row, per step.
  const int a_row = tid >> 1;
  const int a_k = (tid & 1) << 2;
  const int b_k = tid >> 5;
  const int b_col = (tid & 31) << 2;
  float a_next[4], b_next[4];

  auto fetch = [&](int k0) {
    const int row = block_row + a_row;
    const int ka = k0 + a_k;
    if (kVectorA && row < m && ka + 3 < k) {
      const float4 v = *reinterpret_cast<const float4*>(a + row * shape.lda + ka);
      a_next[0] = v.x, a_next[1] = v.y, a_next[2] = v.z, a_next[3] = v.w;
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a_next[i] = row < m && ka + i < k ? a[row * shape.lda + ka + i] : 0.0f;
      }
    }
    const int kb = k0 + b_k;
    const int col = block_col + b_col;
    if (kVectorB && kb < k && col + 3 < n) {
      const float4 v = *reinterpret_cast<const float4*>(b + kb * shape.ldb + col);
      b_next[0] = v.x, b_next[1] = v.y, b_next[2] = v.z, b_next[3] = v.w;
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        b_next[i] = kb < k && col + i < n ? b[kb * shape.ldb + col + i] : 0.0f;
      }
    }
  };
  auto store = [&](int buffer) {
#pragma unroll
    for (int i = 0; i < 4; ++i) a_tile[buffer][a_k + i][a_row] = a_next[i];
    *reinterpret_cast<float4*>(&b_tile[buffer][b_k][b_col]) =
        make_float4(b_next[0], b_next[1], b_next[2], b_next[3]);
  };

  // This thread's 8x8 of C: rows ty*4 + {0..3} and + 64; columns likewise.
  const int tx = tid & 15, ty = tid >> 4;
  float accumulator[8][8] = {};
  fetch(0);
  store(0);
  __syncthreads();
  int buffer = 0;
  for (int k0 = 0; k0 < k; k0 += kBlockK) {
    const bool more = k0 + kBlockK < k;
    if (more) fetch(k0 + kBlockK);
#pragma unroll
    for (int kk = 0; kk < kBlockK; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4*>(&a_tile[buffer][kk][ty * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&a_tile[buffer][kk][ty * 4 + 64]);
      const float4 b0 = *reinterpret_cast<const float4*>(&b_tile[buffer][kk][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&b_tile[buffer][kk][tx * 4 + 64]);
      const float as[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bs[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i) {
#pragma unroll
        for (int j = 0; j < 8; ++j) accumulator[i][j] = fmaf(as[i], bs[j], accumulator[i][j]);
      }
    }
    // The other buffer was last read before the previous barrier.
    if (more) store(buffer ^ 1);
    __syncthreads();
    buffer ^= 1;
  }

#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int row = block_row + ty * 4 + (i & 3) + (i >> 2) * 64;
    if (row >= m) continue;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int col = block_col + tx * 4 + (j & 3) + (j >> 2) * 64;
      if (col >= n) continue;
      float value = accumulator[i][j];
      if (epilogue.bias != nullptr) value += epilogue.bias[epilogue.bias_per_row ? row : col];
      if (residual != nullptr) value += residual[row * shape.ldc + col];
      c[row * shape.ldc + col] = DeviceActivate(value, epilogue.activation);
    }
  }
}

bool Aligned(const void* p, int64_t leading, int64_t stride) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && leading % 4 == 0 && stride % 4 == 0;
}

}  // namespace

cudaError_t LaunchSgemm(const GemmShape& shape, const float* a, const float* b, float* c,
                        const GemmEpilogue& epilogue, cudaStream_t stream) {
  if (shape.m < 0 || shape.n < 0 || shape.k < 0 || shape.batch < 0) return cudaErrorInvalidValue;
  if (shape.m == 0 || shape.n == 0 || shape.batch == 0) return cudaSuccess;
  if (c == nullptr || shape.ldc < shape.n || (shape.k > 0 && (a == nullptr || b == nullptr)) ||
      (shape.k > 0 && (shape.lda < shape.k || shape.ldb < shape.n)) ||
      shape.batch > 65535) {
    return cudaErrorInvalidValue;
  }
  const dim3 grid((shape.n + kBlockN - 1) / kBlockN, (shape.m + kBlockM - 1) / kBlockM,
                  shape.batch);
  if (grid.y > 65535) return cudaErrorInvalidValue;
  const bool vector_a = Aligned(a, shape.lda, shape.stride_a);
  const bool vector_b = Aligned(b, shape.ldb, shape.stride_b);
  if (vector_a && vector_b) {
    SgemmKernel<true, true><<<grid, kThreads, 0, stream>>>(shape, a, b, c, epilogue);
  } else if (vector_a) {
    SgemmKernel<true, false><<<grid, kThreads, 0, stream>>>(shape, a, b, c, epilogue);
  } else if (vector_b) {
    SgemmKernel<false, true><<<grid, kThreads, 0, stream>>>(shape, a, b, c, epilogue);
  } else {
    SgemmKernel<false, false><<<grid, kThreads, 0, stream>>>(shape, a, b, c, epilogue);
  }
  return cudaGetLastError();
}

}  // namespace convd::cuda
