// The SGEMM's tiles with K steps copied into shared memory by cp.async,
// kCopyStages at once (GemmKernelChoice::stages = 4; GPU_NOTES entry 23).
// Internal to kernels/cuda.
//
// The register-staged kernel (sgemm_kernel.cuh) loads the next K step into
// registers while it multiplies the current one, then stores them to the
// other shared buffer: each step ends with the stores waiting on the loads,
// and 8 registers a thread hold the step in transit. Here each thread
// issues its share of the step three ahead as asynchronous copies (global
// to shared, no registers: 4-byte copies for A, transposed into [k][m] as
// the other kernel stores it; a 16-byte one for B's 4 columns where they
// are whole and aligned), so three steps are in flight while one is
// multiplied. Per step: wait for this thread's copies of the step, a
// barrier (everyone's copies landed; everyone done with the stage about to
// be refilled), issue the copies three steps ahead into that stage,
// multiply. Out-of-range elements are copied as zeros (cp.async's zero
// fill) from a valid address. Same tiles, thread layout, products and
// epilogue as the FP32 register-staged kernel (MultiplyStepFp32,
// WriteBlockFp32), so the results are the same bit for bit; FP32 only, B
// a matrix in memory only.
#ifndef CONVD_KERNELS_CUDA_SGEMM_PIPELINED_CUH_
#define CONVD_KERNELS_CUDA_SGEMM_PIPELINED_CUH_

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/async_copy.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sgemm_epilogue.cuh"
#include "kernels/cuda/sgemm_kernel.cuh"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda::sgemm {

// C = epilogue(A x B) on kBlockRows x kBlockColumns tiles (64 or 128 a
// side), FP32; B's 16-byte copies where kVectorB (ldb, stride_b and b
// multiples of 4 floats).
template <int kBlockRows, int kBlockColumns, bool kVectorB>
__global__ __launch_bounds__(kThreads, kMinBlocksPerSm) void SgemmPipelinedKernel(
    GemmShape shape, const float* __restrict__ a, const float* __restrict__ b,
    float* __restrict__ c, GemmEpilogue epilogue) {
  static_assert(kBlockRows == kBlockM || kBlockRows == kHalfBlock);
  static_assert(kBlockColumns == kBlockN || kBlockColumns == kHalfBlock);
  static_assert((kCopyStages & (kCopyStages - 1)) == 0, "stage = step % kCopyStages, cheaply");
  constexpr int kRowQuadrants = kBlockRows / 64, kColumnQuadrants = kBlockColumns / 64;
  constexpr int kPad = kSharedPad<GemmMath::kFp32>;
  __shared__ __align__(16) float a_tile[kCopyStages][kBlockK][kBlockRows + kPad];  // [k][m]
  __shared__ __align__(16) float b_tile[kCopyStages][kBlockK][kBlockColumns + kPad];
  const int m = shape.m, n = shape.n, k = shape.k;
  a += blockIdx.z * shape.stride_a;
  b += blockIdx.z * shape.stride_b;
  c += blockIdx.z * shape.stride_c;
  const float* residual =
      epilogue.residual == nullptr ? nullptr : epilogue.residual + blockIdx.z * shape.stride_c;
  const int tid = threadIdx.x;
  const int block_row = blockIdx.y * kBlockRows;
  const int block_col = blockIdx.x * kBlockColumns;

  // The register-staged kernel's share of each step, copied instead.
  const TileLoads<kBlockRows, kBlockColumns> loads(tid);
  const bool loads_a = loads.loads_a, loads_b = loads.loads_b;
  const int a_row = loads.a_row, a_k = loads.a_k, b_k = loads.b_k, b_col = loads.b_col;
  const bool a_row_live = loads_a && block_row + a_row < m;
  const int b_columns_live = loads_b ? max(0, min(4, n - (block_col + b_col))) : 0;
  // The next step's sources, advanced a step at a time (steps are issued in
  // order). A dead row reads row 0 and dead columns column 0: valid
  // addresses, never read (zero fill).
  const float* a_next = a + (a_row_live ? (block_row + a_row) * shape.lda : 0) + a_k;
  const float* b_next = b + int64_t{b_k} * shape.ldb + (b_columns_live > 0 ? block_col + b_col : 0);
  const int64_t b_step = int64_t{kBlockK} * shape.ldb;
  constexpr int kARowFloats = kBlockRows + kPad;
  constexpr int kStageFloatsA = kBlockK * kARowFloats;
  constexpr int kStageFloatsB = kBlockK * (kBlockColumns + kPad);
  // Where this thread's copies go in stage 0 (threads that copy nothing
  // past the loaders of a 64-long tile: the tile's start, unused).
  const SharedAddress a_destination =
      ToSharedAddress(loads_a ? &a_tile[0][a_k][a_row] : &a_tile[0][0][0]);
  const SharedAddress b_destination =
      ToSharedAddress(loads_b ? &b_tile[0][b_k][b_col] : &b_tile[0][0][0]);

  // Copies K step `step` (the next: steps are issued in order) into its
  // stage. A whole step (all of it below K: every step but a ragged last
  // one) needs no test of K per element, and takes its own branch: folded
  // into the ragged one's selects, it cost 60 instructions a step.
  auto issue = [&](int step) {
    const int stage = step & (kCopyStages - 1);
    const int k0 = step * kBlockK;
    const SharedAddress a_to = AddFloats(a_destination, stage * kStageFloatsA);
    const SharedAddress b_to = AddFloats(b_destination, stage * kStageFloatsB);
    if (k0 + kBlockK <= k) {
      if (loads_a) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          CopyToShared<4>(AddFloats(a_to, i * kARowFloats), a_next + i, a_row_live);
        }
      }
      if (loads_b) {
        if (kVectorB && b_columns_live == 4) {
          CopyToShared<16>(b_to, b_next, true);
        } else {
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const bool live = i < b_columns_live;
            CopyToShared<4>(AddFloats(b_to, i), live ? b_next + i : b_next, live);
          }
        }
      }
    } else {
      // Past K the addresses could run past A's or B's end: their first
      // elements stand in, read as zeros.
      if (loads_a) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const bool live = a_row_live && k0 + a_k + i < k;
          CopyToShared<4>(AddFloats(a_to, i * kARowFloats), live ? a_next + i : a, live);
        }
      }
      if (loads_b) {
        const bool row_live = k0 + b_k < k;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const bool live = row_live && i < b_columns_live;
          CopyToShared<4>(AddFloats(b_to, i), live ? b_next + i : b, live);
        }
      }
    }
    a_next += kBlockK;
    b_next += b_step;
  };

  const int tx = tid & 15, ty = tid >> 4;
  float accumulator[4 * kRowQuadrants][4 * kColumnQuadrants] = {};
  const int steps = (k + kBlockK - 1) / kBlockK;
  // One group per step (empty past the last), so that "all but the newest
  // kCopyStages - 2 groups landed" always means "this step landed".
#pragma unroll
  for (int step = 0; step < kCopyStages - 1; ++step) {
    if (step < steps) issue(step);
    CommitCopies();
  }
  for (int step = 0; step < steps; ++step) {
    WaitForCopies<kCopyStages - 2>();
    __syncthreads();
    // Into the stage of step - 1, which every thread is done with.
    const int ahead = step + kCopyStages - 1;
    if (ahead < steps) issue(ahead);
    CommitCopies();
    const int stage = step & (kCopyStages - 1);
    MultiplyStepFp32<kRowQuadrants, kColumnQuadrants>(a_tile[stage], b_tile[stage], tx, ty,
                                                      accumulator);
  }
  WriteBlockFp32<kRowQuadrants, kColumnQuadrants>(accumulator, block_row, block_col, tx, ty,
                                                  VectorsAligned<4>(shape, c, residual), shape,
                                                  epilogue, residual, c);
}

// Launches SgemmPipelinedKernel over `shape` on the tiles of
// KernelFor(shape, chosen). The caller checks the shape and the choice
// (ValidChoice; FP32 math); the result is the launch's error
// (cudaErrorInvalidValue for more than 65535 tiles down m).
inline cudaError_t LaunchPipelinedTiles(const GemmShape& shape, const float* a, const float* b,
                                        float* c, const GemmEpilogue& epilogue, cudaStream_t stream,
                                        const GemmKernelChoice& chosen) {
  const GemmKernelChoice kernel = KernelFor(shape, chosen);
  const dim3 grid = TileGrid(shape, kernel);
  if (grid.y > 65535) return cudaErrorInvalidValue;
  const bool vector_b = Aligned(b, shape.ldb, shape.stride_b);
  WithTileSides(kernel, [&](auto rows_constant, auto columns_constant) {
    constexpr int kRows = decltype(rows_constant)::value;
    constexpr int kColumns = decltype(columns_constant)::value;
    const auto kernel_function = vector_b ? SgemmPipelinedKernel<kRows, kColumns, true>
                                          : SgemmPipelinedKernel<kRows, kColumns, false>;
    CONVD_LAUNCH(grid, kThreads, stream, kernel_function, shape, a, b, c, epilogue);
  });
  return cudaGetLastError();
}

}  // namespace convd::cuda::sgemm

#endif  // CONVD_KERNELS_CUDA_SGEMM_PIPELINED_CUH_
