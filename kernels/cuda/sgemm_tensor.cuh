// The SGEMM's tensor-core kernel for a B in memory (GemmMath::kTf32 and
// kFp16; GemmKernelChoice::stages = kTensorStages, the rule's for those
// maths; GPU_NOTES entry 26). Internal to kernels/cuda.
//
// The register-staged kernel (sgemm_kernel.cuh) runs the tensor-core maths
// on the FP32 kernel's K steps of 8: each warp issues one K step of mma
// (16 instructions) between two barriers, with the next step's loads and
// its stores to shared memory around them, and the first run measured it
// at a quarter of cuBLAS's speed. Here a K step is 32 deep and three of
// them are in flight, copied by cp.async straight from global memory:
//
// - Tiles of 128 or 64 rows by 128 or 64 columns (KernelFor, as the other
//   kernels), 256 threads as 8 warps, 2 down m by 4 across n: each warp
//   computes a (rows / 2) x (columns / 4) quadrant of C as m16n8 tiles
//   (4 x 4 of them on 128x128 tiles), FP32 accumulation: mma m16n8k8 in
//   TF32, m16n8k16 in FP16 (its native shape: half the instructions).
// - Shared memory holds each stage's A as [m][k] (A's own layout, so
//   16-byte copies) and B as [k][n], in FP32 as they are in memory:
//   3 stages of 128x32 and 32x128 are 105-110 KB, dynamic shared memory,
//   two blocks an SM.
// - Operands are rounded as the register-staged kernel rounds them on the
//   way into shared memory, so the products are its own. TF32: each thread
//   rounds its own chunks of a step in place (cvt.rna), once they have
//   landed and before the barrier that shows them to the block: sm_90 has
//   no single instruction for it (about 3 a float), and at fragment load
//   every float would be rounded by each of the 2 or 4 warps that read it,
//   96 times a step a thread against 32. FP16: at fragment load, as the
//   f16 pairs the mma takes (one cvt.rn per pair).
// - Fragments, as the PTX ISA lays them out, each register loaded straight
//   from shared memory (lane (g, t) = (lane / 4, lane % 4)): TF32 reads
//   A[g][t] (the four of an m16 tile by one ldmatrix .x4: its 8x8 16-bit
//   matrices are 8x4 32-bit ones) and B[t][g], whose row strides are
//   padded to 36 floats (banks 4g + t; ldmatrix's 8 rows of 16 bytes at
//   banks 4g..4g+3) and columns + 8 (8t + g); FP16 reads A[g][2t..2t+1]
//   as a float2 (stride 40: 8g + 2t, per half warp) and B[2t][g],
//   B[2t+1][g] (columns + 4: 8t + g), and the same 8 further on in K for
//   m16n8k16's second half, so every load of a warp touches 32 different
//   banks.
//   (Reading TF32's A as float2, with K permuted alike in A and B, took
//   half the loads but a move per register: the mma wants rows g and g + 8
//   side by side in its registers, not two K of one row.)
// - Each thread copies 4 (or 2, on 64-long tiles) 16-byte chunks of A and
//   of B a step: 16-byte copies where the operand's rows allow them
//   (kVectorA, kVectorB: aligned start, leading dimension and batch stride
//   multiples of 4 floats), zero-filled past K, M and N; four 4-byte
//   copies otherwise.
// - Per step: wait for this thread's copies of the step (TF32: round
//   them), a barrier (everyone's landed; everyone done with the stage
//   about to be refilled), issue the copies two steps ahead into that
//   stage, then the mma on this one. A step that lies wholly inside A
//   (or B) takes copies without bounds tests.
// - C is written through the epilogue as each lane's pairs of columns,
//   one float2 store each where C's layout allows.
//
// The implicit-GEMM convolution keeps the register-staged kernel: its B is
// gathered element by element, which cp.async cannot do.
#ifndef CONVD_KERNELS_CUDA_SGEMM_TENSOR_CUH_
#define CONVD_KERNELS_CUDA_SGEMM_TENSOR_CUH_

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/async_copy.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sgemm_epilogue.cuh"
#include "kernels/cuda/sgemm_kernel.cuh"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/cuda/sgemm_mma.cuh"

namespace convd::cuda::sgemm {

inline constexpr int kTensorBlockK = 32;

// One stage of shared memory for kMath on kBlockRows x kBlockColumns
// tiles: A as [kBlockRows][kARow], then B as [kTensorBlockK][kBRow] (rows
// padded: see above).
template <int kBlockRows, int kBlockColumns, GemmMath kMath>
struct TensorStage {
  static_assert(kMath == GemmMath::kTf32 || kMath == GemmMath::kFp16);
  static constexpr int kARow = kTensorBlockK + (kMath == GemmMath::kFp16 ? 8 : 4);
  static constexpr int kBRow = kBlockColumns + (kMath == GemmMath::kFp16 ? 4 : 8);
  static constexpr int kAFloats = kBlockRows * kARow;
  static constexpr int kFloats = kAFloats + kTensorBlockK * kBRow;
  static constexpr int kSharedBytes = kTensorStages * kFloats * static_cast<int>(sizeof(float));
  static_assert(kARow % 4 == 0 && kBRow % 4 == 0 && kAFloats % 4 == 0 && kFloats % 4 == 0,
                "16-byte copies need 16-byte aligned rows");
};

template <int kBlockRows, int kBlockColumns, bool kVectorA, bool kVectorB, GemmMath kMath>
__global__ __launch_bounds__(kThreads, kMinBlocksPerSm) void SgemmTensorKernel(
    GemmShape shape, const float* __restrict__ a, const float* __restrict__ b,
    float* __restrict__ c, GemmEpilogue epilogue) {
  static_assert(kBlockRows == kBlockM || kBlockRows == kHalfBlock);
  static_assert(kBlockColumns == kBlockN || kBlockColumns == kHalfBlock);
  using Stage = TensorStage<kBlockRows, kBlockColumns, kMath>;
  constexpr int kARow = Stage::kARow, kBRow = Stage::kBRow;
  // Warps: 2 down m, 4 across n; each a kTilesM x kTilesN grid of m16n8 tiles.
  constexpr int kWarpRows = kBlockRows / 2, kWarpColumns = kBlockColumns / 4;
  constexpr int kTilesM = kWarpRows / 16, kTilesN = kWarpColumns / 8;
  // Copies: 16-byte chunks, kTensorBlockK / 4 to a row of A's step and
  // kBlockColumns / 4 to a row of B's, dealt out to the threads in turn.
  constexpr int kAChunksPerRow = kTensorBlockK / 4, kBChunksPerRow = kBlockColumns / 4;
  constexpr int kARowsPerPass = kThreads / kAChunksPerRow,
                kBRowsPerPass = kThreads / kBChunksPerRow;
  constexpr int kAChunks = kBlockRows / kARowsPerPass, kBChunks = kTensorBlockK / kBRowsPerPass;
  static_assert(kAChunks * kARowsPerPass == kBlockRows &&
                kBChunks * kBRowsPerPass == kTensorBlockK);

  CONVD_DYNAMIC_SHARED(shared, Stage::kSharedBytes);
  const int m = shape.m, n = shape.n, k = shape.k;
  a += blockIdx.z * shape.stride_a;
  b += blockIdx.z * shape.stride_b;
  const int tid = threadIdx.x;
  const int block_row = blockIdx.y * kBlockRows;
  const int block_col = blockIdx.x * kBlockColumns;

  // This thread's chunks: A's rows a_row + i * kARowsPerPass at K offset
  // a_k, B's K rows b_k + i * kBRowsPerPass at column b_col. Dead rows and
  // columns read A's or B's first element (a valid, aligned address) as
  // zeros.
  const int a_row = tid / kAChunksPerRow, a_k = tid % kAChunksPerRow * 4;
  const int b_k = tid / kBChunksPerRow, b_col = tid % kBChunksPerRow * 4;
  const int b_columns_live = max(0, min(4, n - (block_col + b_col)));
  const bool a_rows_whole = block_row + kBlockRows <= m;
  const bool b_columns_whole = block_col + kBlockColumns <= n;
  const int64_t a_pass = int64_t{kARowsPerPass} * shape.lda;
  const int64_t b_pass = int64_t{kBRowsPerPass} * shape.ldb;
  // The next step's chunk i = 0, advanced a step at a time (steps are
  // issued in order).
  const float* a_next = a + int64_t{block_row + a_row} * shape.lda + a_k;
  const float* b_next = b + int64_t{b_k} * shape.ldb + block_col + b_col;
  const SharedAddress stage0 = ToSharedAddress(shared);
  const SharedAddress a_to = AddFloats(stage0, a_row * kARow + a_k);
  const SharedAddress b_to = AddFloats(stage0, Stage::kAFloats + b_k * kBRow + b_col);

  // Copies K step `step` (the next) into stage `stage`.
  auto issue = [&](int step, int stage) {
    const int k0 = step * kTensorBlockK;
    const bool k_whole = k0 + kTensorBlockK <= k;
    const int stage_floats = stage * Stage::kFloats;
    const int a_k_left = k - (k0 + a_k);  // this chunk's K still in A
#pragma unroll
    for (int i = 0; i < kAChunks; ++i) {
      const float* from = a_next + i * a_pass;
      const SharedAddress to = AddFloats(a_to, stage_floats + i * kARowsPerPass * kARow);
      const bool row_live = block_row + a_row + i * kARowsPerPass < m;
      if (kVectorA && k_whole && a_rows_whole) {
        CopyToShared<16>(to, from, true);
      } else if constexpr (kVectorA) {
        const int bytes = row_live ? 4 * max(0, min(4, a_k_left)) : 0;
        CopyToShared<16>(to, bytes > 0 ? from : a, bytes);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const bool live = row_live && e < a_k_left;
          CopyToShared<4>(AddFloats(to, e), live ? from + e : a, live);
        }
      }
    }
#pragma unroll
    for (int i = 0; i < kBChunks; ++i) {
      const float* from = b_next + i * b_pass;
      const SharedAddress to = AddFloats(b_to, stage_floats + i * kBRowsPerPass * kBRow);
      const int live_columns = k0 + b_k + i * kBRowsPerPass < k ? b_columns_live : 0;
      if (kVectorB && k_whole && b_columns_whole) {
        CopyToShared<16>(to, from, true);
      } else if constexpr (kVectorB) {
        CopyToShared<16>(to, live_columns > 0 ? from : b, 4 * live_columns);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const bool live = e < live_columns;
          CopyToShared<4>(AddFloats(to, e), live ? from + e : b, live);
        }
      }
    }
    a_next += kTensorBlockK;
    b_next += kTensorBlockK * shape.ldb;
  };

  // TF32: rounds this thread's chunks of stage `stage` in place (they have
  // landed: its copies are waited for).
  auto round_own_chunks = [&](int stage) {
    float* const stage_floats = shared + stage * Stage::kFloats;
    auto round = [](float* chunk) {
      float4 v = *reinterpret_cast<float4*>(chunk);
      v = make_float4(RoundToTf32(v.x), RoundToTf32(v.y), RoundToTf32(v.z), RoundToTf32(v.w));
      *reinterpret_cast<float4*>(chunk) = v;
    };
#pragma unroll
    for (int i = 0; i < kAChunks; ++i) {
      round(stage_floats + (a_row + i * kARowsPerPass) * kARow + a_k);
    }
#pragma unroll
    for (int i = 0; i < kBChunks; ++i) {
      round(stage_floats + Stage::kAFloats + (b_k + i * kBRowsPerPass) * kBRow + b_col);
    }
  };

  const int lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int warp = tid >> 5;
  const int warp_m = warp / 4 * kWarpRows, warp_n = warp % 4 * kWarpColumns;
  float accumulator[kTilesM][kTilesN][4] = {};
  // TF32's A fragments by ldmatrix: lanes 8i..8i+7 give the rows of block
  // i, rows g + 8 * (i % 2) at K t + 4 * (i / 2) of an m16 tile, so that
  // r[i] is the fragment's a_i.
  const int a_matrix_row =
      (warp_m + lane % 8 + 8 * (lane / 8 % 2)) * kARow + 4 * (lane / 16);

  // One stage's mma: this warp's quadrant += A[:, 32] x B[32, :], 8 of K
  // at a time in TF32, 16 in FP16.
  auto multiply = [&](int stage) {
    const float* a_step = shared + stage * Stage::kFloats;
    const float* b_step = a_step + Stage::kAFloats;
#pragma unroll
    for (int k8 = 0; k8 < kTensorBlockK; k8 += 8) {
      if constexpr (kMath == GemmMath::kTf32) {
        float b_fragment[kTilesN][2];
#pragma unroll
        for (int j = 0; j < kTilesN; ++j) {
          const float* column = b_step + (k8 + t) * kBRow + warp_n + j * 8 + g;
          b_fragment[j][0] = column[0];
          b_fragment[j][1] = column[4 * kBRow];
        }
#pragma unroll
        for (int i = 0; i < kTilesM; ++i) {
          uint32_t a_bits[4];
          LoadMatrixX4(a_bits, a_step + a_matrix_row + i * 16 * kARow + k8);
          const float a_fragment[4] = {__uint_as_float(a_bits[0]), __uint_as_float(a_bits[1]),
                                       __uint_as_float(a_bits[2]), __uint_as_float(a_bits[3])};
#pragma unroll
          for (int j = 0; j < kTilesN; ++j) MmaTf32(accumulator[i][j], a_fragment, b_fragment[j]);
        }
      } else if (k8 % 16 == 0) {  // FP16: m16n8k16, one per 16 of K
        uint32_t b_fragment[kTilesN][2];
#pragma unroll
        for (int j = 0; j < kTilesN; ++j) {
          const float* column = b_step + (k8 + 2 * t) * kBRow + warp_n + j * 8 + g;
          b_fragment[j][0] = PackHalves(column[0], column[kBRow]);
          b_fragment[j][1] = PackHalves(column[8 * kBRow], column[9 * kBRow]);
        }
#pragma unroll
        for (int i = 0; i < kTilesM; ++i) {
          const float* row = a_step + (warp_m + i * 16 + g) * kARow + k8 + 2 * t;
          const float2 upper = *reinterpret_cast<const float2*>(row);
          const float2 lower = *reinterpret_cast<const float2*>(row + 8 * kARow);
          const float2 upper_next = *reinterpret_cast<const float2*>(row + 8);
          const float2 lower_next = *reinterpret_cast<const float2*>(row + 8 * kARow + 8);
          const uint32_t a_fragment[4] = {
              PackHalves(upper.x, upper.y), PackHalves(lower.x, lower.y),
              PackHalves(upper_next.x, upper_next.y), PackHalves(lower_next.x, lower_next.y)};
#pragma unroll
          for (int j = 0; j < kTilesN; ++j) {
            MmaFp16K16(accumulator[i][j], a_fragment, b_fragment[j]);
          }
        }
      }
    }
  };

  const int steps = (k + kTensorBlockK - 1) / kTensorBlockK;
  // One group per step (empty past the last), so that "all but the newest
  // kTensorStages - 2 groups landed" always means "this step landed".
#pragma unroll
  for (int step = 0; step < kTensorStages - 1; ++step) {
    if (step < steps) issue(step, step);
    CommitCopies();
  }
  int stage = 0;
  for (int step = 0; step < steps; ++step) {
    WaitForCopies<kTensorStages - 2>();
    if constexpr (kMath == GemmMath::kTf32) round_own_chunks(stage);
    __syncthreads();
    // Into the stage of step - 1, which every thread is done with.
    const int ahead = step + kTensorStages - 1;
    if (ahead < steps) issue(ahead, stage == 0 ? kTensorStages - 1 : stage - 1);
    CommitCopies();
    multiply(stage);
    stage = stage + 1 == kTensorStages ? 0 : stage + 1;
  }

  // C and the residual at this batch entry, found only now: held through
  // the loop, their registers made it spill.
  c += blockIdx.z * shape.stride_c;
  const float* residual =
      epilogue.residual == nullptr ? nullptr : epilogue.residual + blockIdx.z * shape.stride_c;
  // Registers 2h and 2h + 1 of tile (i, j) hold C[g + 8h][2t..2t+1] of the
  // tile: a float2 store each where C's layout allows (VectorsAligned).
  const bool pairs_aligned = VectorsAligned<2>(shape, c, residual);
#pragma unroll
  for (int i = 0; i < kTilesM; ++i) {
#pragma unroll
    for (int j = 0; j < kTilesN; ++j) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int row = block_row + warp_m + i * 16 + g + half * 8;
        const int col = block_col + warp_n + j * 8 + 2 * t;
        const float(&pair)[2] = reinterpret_cast<const float(&)[2]>(accumulator[i][j][2 * half]);
        WriteColumnsWithEpilogue<2>(pair, row, col, pairs_aligned, shape, epilogue, residual, c);
      }
    }
  }
}

// The four SgemmTensorKernel variants on kRows x kColumns tiles in kMath,
// indexed [kVectorA][kVectorB].
template <int kRows, int kColumns, GemmMath kMath>
struct TensorKernels {
  using Kernel = void (*)(GemmShape, const float*, const float*, float*, GemmEpilogue);
  static constexpr int kSharedBytes = TensorStage<kRows, kColumns, kMath>::kSharedBytes;
  static constexpr Kernel kVariants[2][2] = {
      {SgemmTensorKernel<kRows, kColumns, false, false, kMath>,
       SgemmTensorKernel<kRows, kColumns, false, true, kMath>},
      {SgemmTensorKernel<kRows, kColumns, true, false, kMath>,
       SgemmTensorKernel<kRows, kColumns, true, true, kMath>}};

  // Whether the device lets the variants have their stages: above 48 KB a
  // kernel must opt in, once, to what it launches with, up to the device's
  // limit (227 KB on an H100; 99 KB on an sm_120 card, too little for the
  // 128-wide tiles). Done once per process; convd runs on device 0. Each
  // also asks for the SM's most shared memory (CUTLASS's carveout, 100%):
  // two blocks need 210-220 of an H100 SM's 228 KB, and the hint keeps the
  // driver from sizing the SM for one. A refusal is an answer, not an
  // error for the next launch check to find, so it is cleared.
  static bool OptedIn() {
    static const bool opted_in = [] {
      for (const auto& by_b : kVariants) {
        for (Kernel variant : by_b) {
          const void* kernel = reinterpret_cast<const void*>(variant);
          if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   kSharedBytes) != cudaSuccess) {
            cudaGetLastError();
            return false;
          }
          if (cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                   cudaSharedmemCarveoutMaxShared) != cudaSuccess) {
            cudaGetLastError();  // a hint the device may not take
          }
        }
      }
      return true;
    }();
    return opted_in;
  }
};

// Whether SgemmTensorKernel can run on `kernel`'s tiles (KernelFor) in
// `math` (kTf32 or kFp16) on this device (TensorKernels::OptedIn). Where
// it cannot, the rule's products take the register-staged kernel.
inline bool TensorTilesFit(const GemmKernelChoice& kernel, GemmMath math) {
  bool fits = false;
  WithTileSides(kernel, [&](auto rows_constant, auto columns_constant) {
    constexpr int kRows = decltype(rows_constant)::value;
    constexpr int kColumns = decltype(columns_constant)::value;
    fits = math == GemmMath::kFp16 ? TensorKernels<kRows, kColumns, GemmMath::kFp16>::OptedIn()
                                   : TensorKernels<kRows, kColumns, GemmMath::kTf32>::OptedIn();
  });
  return fits;
}

// Launches SgemmTensorKernel over `shape` on the tiles of KernelFor(shape,
// chosen) in `math` (kTf32 or kFp16). The caller checks the shape and the
// choice; the result is the launch's error (cudaErrorInvalidValue for
// more than 65535 tiles down m, for FP32 math, or where the tiles do not
// fit the device: TensorTilesFit).
inline cudaError_t LaunchTensorTiles(const GemmShape& shape, const float* a, const float* b,
                                     float* c, const GemmEpilogue& epilogue, cudaStream_t stream,
                                     GemmMath math, const GemmKernelChoice& chosen) {
  const GemmKernelChoice kernel = KernelFor(shape, chosen, math);
  const dim3 grid = TileGrid(shape, kernel);
  if (grid.y > 65535 || math == GemmMath::kFp32) return cudaErrorInvalidValue;
  const bool vector_a = Aligned(a, shape.lda, shape.stride_a);
  const bool vector_b = Aligned(b, shape.ldb, shape.stride_b);
  cudaError_t error = cudaSuccess;
  auto launch = [&](auto rows_constant, auto columns_constant, auto math_constant) {
    constexpr int kRows = decltype(rows_constant)::value;
    constexpr int kColumns = decltype(columns_constant)::value;
    using Kernels = TensorKernels<kRows, kColumns, decltype(math_constant)::value>;
    if (!Kernels::OptedIn()) {
      error = cudaErrorInvalidValue;
      return;
    }
    const typename Kernels::Kernel kernel_function = Kernels::kVariants[vector_a][vector_b];
    CONVD_LAUNCH_SHARED(grid, kThreads, Kernels::kSharedBytes, stream, kernel_function, shape, a,
                        b, c, epilogue);
    error = cudaGetLastError();
  };
  WithTileSides(kernel, [&](auto rows_constant, auto columns_constant) {
    if (math == GemmMath::kTf32) {
      launch(rows_constant, columns_constant, std::integral_constant<GemmMath, GemmMath::kTf32>());
    } else {
      launch(rows_constant, columns_constant, std::integral_constant<GemmMath, GemmMath::kFp16>());
    }
  });
  return error;
}

}  // namespace convd::cuda::sgemm

#endif  // CONVD_KERNELS_CUDA_SGEMM_TENSOR_CUH_
