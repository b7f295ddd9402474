// SGEMM: 128x128 block tiles, K in steps of 8, 256 threads each computing an
// 8x8 block of C in registers (two 4x4 quadrants 64 rows/columns apart, so
// shared-memory reads are float4 and conflict-free). Tiles are double
// buffered: the next K step is fetched from global memory into registers
// while the current one is multiplied, then stored to the other shared
// buffer, with one barrier per step. Global loads are float4 when the rows
// allow it (leading dimensions and offsets multiples of 4), scalar with
// bounds checks at the edges. The epilogue (bias, residual, activation) is
// applied on the way out.
//
// GemmMath::kTf32 runs the same tiles, loaders and epilogue on the tensor
// cores: operands are rounded to TF32 (cvt.rna) as they are stored to shared
// memory, and each of the 8 warps computes a 64x32 quadrant of the block as
// 4x4 mma.sync.m16n8k8 tiles (FP32 accumulate). Shared rows are padded by 8
// floats so that the fragment loads (lane = 4 * row + k) hit 32 banks.
//
// GemmMath::kFp16 is the same with operands rounded to FP16 (cvt.rn) and
// mma.sync.m16n8k8 on f16 pairs: each lane reads K rows 2t and 2t+1, so the
// rows are padded by 4 floats instead (row stride = 8 banks per pair step).
// The shared tiles stay FP32 (holding FP16-representable values) so that
// the loaders and the double buffering are the FP32 kernel's.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstring>

#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda {
namespace {

constexpr int kBlockM = 128, kBlockN = 128, kBlockK = 8;
constexpr int kThreads = 256;

// Floats after each shared row, per math (see above).
template <GemmMath kMath>
constexpr int kSharedPad = kMath == GemmMath::kFp16 ? 4 : 8;

// x rounded to TF32 (10 mantissa bits, to nearest, ties away), as bits.
__device__ __forceinline__ float RoundToTf32(float x) {
#ifdef CONVD_CUDA_EMULATION
  return emulation::RoundToTf32(x);
#else
  uint32_t bits;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(bits) : "f"(x));
  return __uint_as_float(bits);
#endif
}

// d += a x b on one 16x8x8 tile; fragments as the PTX ISA lays them out
// (g = lane / 4, t = lane % 4): a {A[g][t], A[g+8][t], A[g][t+4],
// A[g+8][t+4]}, b {B[t][g], B[t+4][g]}, d {D[g][2t], D[g][2t+1],
// D[g+8][2t], D[g+8][2t+1]}.
__device__ __forceinline__ void MmaTf32(float (&d)[4], const float (&a)[4], const float (&b)[2]) {
#ifdef CONVD_CUDA_EMULATION
  emulation::MmaTf32(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(__float_as_uint(a[0])), "r"(__float_as_uint(a[1])), "r"(__float_as_uint(a[2])),
        "r"(__float_as_uint(a[3])), "r"(__float_as_uint(b[0])), "r"(__float_as_uint(b[1])));
#endif
}

// x rounded to FP16 (to nearest even; beyond +-65504 it is infinite).
__device__ __forceinline__ float RoundToFp16(float x) { return __half2float(__float2half_rn(x)); }

// Two FP16-representable floats as one f16x2 register, `low` in bits 0-15.
__device__ __forceinline__ uint32_t PackHalves(float low, float high) {
  const __half2 pair = __floats2half2_rn(low, high);
  uint32_t bits;
  memcpy(&bits, &pair, sizeof(bits));  // not a pointer cast: strict aliasing
  return bits;
}

// d += a x b on one 16x8x8 tile of FP16 operands, FP32 accumulation
// (g = lane / 4, t = lane % 4): a {A[g][2t..2t+1], A[g+8][2t..2t+1]},
// b {B[2t..2t+1][g]}, d as MmaTf32's.
__device__ __forceinline__ void MmaFp16(float (&d)[4], const uint32_t (&a)[2], uint32_t b) {
#ifdef CONVD_CUDA_EMULATION
  emulation::MmaFp16(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 "
      "{%0, %1, %2, %3}, {%4, %5}, {%6}, {%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(b));
#endif
}

// An operand as `kMath`'s products see it (FP32: unchanged).
template <GemmMath kMath>
__device__ __forceinline__ float RoundOperand(float x) {
  if constexpr (kMath == GemmMath::kTf32) return RoundToTf32(x);
  if constexpr (kMath == GemmMath::kFp16) return RoundToFp16(x);
  return x;
}

// C[row][col] = act(value + bias + residual), as every path writes C.
__device__ __forceinline__ void WriteWithEpilogue(float value, int row, int col, int64_t ldc,
                                                  const GemmEpilogue& epilogue,
                                                  const float* residual, float* c) {
  if (epilogue.bias != nullptr) value += epilogue.bias[epilogue.bias_per_row ? row : col];
  if (residual != nullptr) value += residual[row * ldc + col];
  c[row * ldc + col] = DeviceActivate(value, epilogue.activation);
}

template <bool kVectorA, bool kVectorB, GemmMath kMath>
__global__ __launch_bounds__(kThreads) void SgemmKernel(GemmShape shape,
                                                       const float* __restrict__ a,
                                                       const float* __restrict__ b,
                                                       float* __restrict__ c,
                                                       GemmEpilogue epilogue) {
  constexpr bool kTensorCores = kMath != GemmMath::kFp32;
  constexpr int kPad = kSharedPad<kMath>;
  __shared__ __align__(16) float a_tile[2][kBlockK][kBlockM + kPad];  // A transposed: [k][m]
  __shared__ __align__(16) float b_tile[2][kBlockK][kBlockN + kPad];
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
    for (int i = 0; i < 4; ++i) {
      a_next[i] = RoundOperand<kMath>(a_next[i]);
      b_next[i] = RoundOperand<kMath>(b_next[i]);
      a_tile[buffer][a_k + i][a_row] = a_next[i];
    }
    *reinterpret_cast<float4*>(&b_tile[buffer][b_k][b_col]) =
        make_float4(b_next[0], b_next[1], b_next[2], b_next[3]);
  };

  // FP32: this thread's 8x8 of C, rows ty*4 + {0..3} and + 64, columns
  // likewise. Tensor cores: this warp's 64x32 quadrant as [4][4] mma tiles.
  const int tx = tid & 15, ty = tid >> 4;
  const int lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int warp_m = (tid >> 7) * 64, warp_n = ((tid >> 5) & 3) * 32;
  float accumulator[8][8] = {};
  fetch(0);
  store(0);
  __syncthreads();
  int buffer = 0;
  for (int k0 = 0; k0 < k; k0 += kBlockK) {
    const bool more = k0 + kBlockK < k;
    if (more) fetch(k0 + kBlockK);
    if constexpr (kMath == GemmMath::kFp16) {
      uint32_t b_fragment[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int n0 = warp_n + j * 8 + g;
        b_fragment[j] = PackHalves(b_tile[buffer][2 * t][n0], b_tile[buffer][2 * t + 1][n0]);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int m0 = warp_m + i * 16 + g;
        const uint32_t a_fragment[2] = {
            PackHalves(a_tile[buffer][2 * t][m0], a_tile[buffer][2 * t + 1][m0]),
            PackHalves(a_tile[buffer][2 * t][m0 + 8], a_tile[buffer][2 * t + 1][m0 + 8])};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          MmaFp16(reinterpret_cast<float(&)[4]>(accumulator[i * 2 + j / 2][(j % 2) * 4]),
                  a_fragment, b_fragment[j]);
        }
      }
    } else if constexpr (kMath == GemmMath::kTf32) {
      float b_fragment[4][2];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        b_fragment[j][0] = b_tile[buffer][t][warp_n + j * 8 + g];
        b_fragment[j][1] = b_tile[buffer][t + 4][warp_n + j * 8 + g];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int m0 = warp_m + i * 16 + g;
        const float a_fragment[4] = {a_tile[buffer][t][m0], a_tile[buffer][t][m0 + 8],
                                     a_tile[buffer][t + 4][m0], a_tile[buffer][t + 4][m0 + 8]};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          MmaTf32(reinterpret_cast<float(&)[4]>(accumulator[i * 2 + j / 2][(j % 2) * 4]),
                  a_fragment, b_fragment[j]);
        }
      }
    } else {
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
    }
    // The other buffer was last read before the previous barrier.
    if (more) store(buffer ^ 1);
    __syncthreads();
    buffer ^= 1;
  }

  auto write = [&](int row, int col, float value) {
    if (row < m && col < n) WriteWithEpilogue(value, row, col, shape.ldc, epilogue, residual, c);
  };
#pragma unroll
  for (int i = 0; i < 8; ++i) {
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      if constexpr (kTensorCores) {
        // accumulator[i][j] is mma tile (i / 2, (i % 2) * 2 + j / 4), register j % 4.
        const int tile_m = i / 2, tile_n = (i % 2) * 2 + j / 4, r = j % 4;
        write(block_row + warp_m + tile_m * 16 + g + (r >> 1) * 8,
              block_col + warp_n + tile_n * 8 + 2 * t + (r & 1), accumulator[i][j]);
      } else {
        write(block_row + ty * 4 + (i & 3) + (i >> 2) * 64,
              block_col + tx * 4 + (j & 3) + (j >> 2) * 64, accumulator[i][j]);
      }
    }
  }
}

// The split-K second pass: C = epilogue(the sum of `parts` partial products,
// each [m, n] and dense, added in order so that every run gives the same
// bits).
__global__ void SumPartsKernel(const float* __restrict__ partial, int parts, int m, int n,
                               int64_t ldc, GemmEpilogue epilogue, float* c) {
  const int64_t count = int64_t{m} * n;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    float sum = 0.0f;
    for (int part = 0; part < parts; ++part) sum += partial[part * count + i];
    WriteWithEpilogue(sum, static_cast<int>(i / n), static_cast<int>(i % n), ldc, epilogue,
                      epilogue.residual, c);
  }
}

// K split into about `parts`: parts of `chunk` (whole block K steps, so
// that each starts aligned), the last one shorter where they do not
// divide K. `count` parts in all, `whole` of them full.
struct KSplit {
  int64_t chunk;
  int count, whole;
};
KSplit SplitK(int k, int parts) {
  int64_t chunk = (int64_t{k} + parts - 1) / parts;
  chunk = (chunk + kBlockK - 1) / kBlockK * kBlockK;
  return {chunk, static_cast<int>((k + chunk - 1) / chunk), static_cast<int>(k / chunk)};
}

// SGEMM blocks resident on one SM: 256 threads at up to 128 registers
// (ptxas: 116-128) fill half its 64K registers.
constexpr int kBlocksPerSm = 2;
// The least K a part is worth: under 16 block steps, the prologue and the
// partial products' round trip outweigh the parallelism.
constexpr int kMinSplitK = 128;
constexpr int kMaxSplitK = 32;

int Multiprocessors() {
  static const int count = [] {
    cudaDeviceProp properties;
    return cudaGetDeviceProperties(&properties, 0) == cudaSuccess ? properties.multiProcessorCount
                                                                  : 1;
  }();
  return count;
}

bool Aligned(const void* p, int64_t leading, int64_t stride) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && leading % 4 == 0 && stride % 4 == 0;
}

template <GemmMath kMath>
void Launch(const dim3& grid, bool vector_a, bool vector_b, const GemmShape& shape,
            const float* a, const float* b, float* c, const GemmEpilogue& epilogue,
            cudaStream_t stream) {
  const auto kernel =
      vector_a ? (vector_b ? SgemmKernel<true, true, kMath> : SgemmKernel<true, false, kMath>)
               : (vector_b ? SgemmKernel<false, true, kMath> : SgemmKernel<false, false, kMath>);
  CONVD_LAUNCH(grid, kThreads, stream, kernel, shape, a, b, c, epilogue);
}

// The product in one kernel (shape and math already checked).
cudaError_t LaunchOnePass(const GemmShape& shape, const float* a, const float* b, float* c,
                          const GemmEpilogue& epilogue, cudaStream_t stream, GemmMath math) {
  const dim3 grid((shape.n + kBlockN - 1) / kBlockN, (shape.m + kBlockM - 1) / kBlockM,
                  shape.batch);
  const bool vector_a = Aligned(a, shape.lda, shape.stride_a);
  const bool vector_b = Aligned(b, shape.ldb, shape.stride_b);
  switch (math) {
    case GemmMath::kFp32:
      Launch<GemmMath::kFp32>(grid, vector_a, vector_b, shape, a, b, c, epilogue, stream);
      break;
    case GemmMath::kTf32:
      Launch<GemmMath::kTf32>(grid, vector_a, vector_b, shape, a, b, c, epilogue, stream);
      break;
    case GemmMath::kFp16:
      Launch<GemmMath::kFp16>(grid, vector_a, vector_b, shape, a, b, c, epilogue, stream);
      break;
  }
  return cudaGetLastError();
}

}  // namespace

int SplitKFor(const GemmShape& shape, int multiprocessors) {
  if (shape.batch != 1 || multiprocessors <= 1) return 1;
  const int64_t blocks =
      int64_t{(shape.n + kBlockN - 1) / kBlockN} * ((shape.m + kBlockM - 1) / kBlockM);
  const int64_t wave = int64_t{kBlocksPerSm} * multiprocessors;
  if (blocks == 0 || 2 * blocks > wave) return 1;  // half a wave or more already
  const int64_t parts = std::min<int64_t>({shape.k / kMinSplitK, wave / blocks, kMaxSplitK});
  return parts > 1 ? static_cast<int>(parts) : 1;
}

int SplitKFor(const GemmShape& shape) { return SplitKFor(shape, Multiprocessors()); }

int64_t SplitKWorkspaceFloats(const GemmShape& shape, int parts) {
  if (parts <= 1 || shape.k <= 0) return 0;
  return SplitK(shape.k, parts).count * int64_t{shape.m} * shape.n;
}

cudaError_t LaunchSgemm(const GemmShape& shape, const float* a, const float* b, float* c,
                        const GemmEpilogue& epilogue, cudaStream_t stream, GemmMath math,
                        const GemmWorkspace& workspace) {
  if (shape.m < 0 || shape.n < 0 || shape.k < 0 || shape.batch < 0) return cudaErrorInvalidValue;
  if (shape.m == 0 || shape.n == 0 || shape.batch == 0) return cudaSuccess;
  if (c == nullptr || shape.ldc < shape.n || (shape.k > 0 && (a == nullptr || b == nullptr)) ||
      (shape.k > 0 && (shape.lda < shape.k || shape.ldb < shape.n)) || shape.batch > 65535) {
    return cudaErrorInvalidValue;
  }
  if ((shape.m + kBlockM - 1) / kBlockM > 65535) return cudaErrorInvalidValue;
  if (math != GemmMath::kFp32 && math != GemmMath::kTf32 && math != GemmMath::kFp16) {
    return cudaErrorInvalidValue;
  }
  const int parts = workspace.split_k > 0 ? workspace.split_k : SplitKFor(shape);
  if (parts <= 1 || shape.batch != 1 || shape.k == 0) {
    return LaunchOnePass(shape, a, b, c, epilogue, stream, math);
  }
  const int64_t needed = SplitKWorkspaceFloats(shape, parts);
  if (workspace.data == nullptr || workspace.floats < needed) {
    // A forced split must get its memory; a chosen one is only an option.
    if (workspace.split_k > 1) return cudaErrorInvalidValue;
    return LaunchOnePass(shape, a, b, c, epilogue, stream, math);
  }
  // Pass 1: the K range of each part as one entry of a batched product,
  // into dense [m, n] partials; the shorter last part on its own.
  const auto [chunk, part_count, whole_parts] = SplitK(shape.k, parts);
  const int64_t partial_floats = int64_t{shape.m} * shape.n;
  GemmShape part = shape;
  part.k = static_cast<int>(chunk);
  part.ldc = shape.n;
  part.stride_a = chunk;
  part.stride_b = chunk * shape.ldb;
  part.stride_c = partial_floats;
  part.batch = whole_parts;
  if (whole_parts > 0) {  // none when K is under one part
    if (cudaError_t e = LaunchOnePass(part, a, b, workspace.data, {}, stream, math);
        e != cudaSuccess) {
      return e;
    }
  }
  if (part_count > whole_parts) {
    const int64_t rest = shape.k - whole_parts * chunk;
    part.k = static_cast<int>(rest);
    part.batch = 1;
    if (cudaError_t e =
            LaunchOnePass(part, a + whole_parts * chunk, b + whole_parts * chunk * shape.ldb,
                          workspace.data + whole_parts * partial_floats, {}, stream, math);
        e != cudaSuccess) {
      return e;
    }
  }
  // Pass 2: their sum, with the epilogue.
  CONVD_LAUNCH(GridBlocks(partial_floats), kThreadsPerBlock, stream, SumPartsKernel, workspace.data,
               part_count, shape.m, shape.n, shape.ldc, epilogue, c);
  return cudaGetLastError();
}

}  // namespace convd::cuda
