// The SGEMM's kernel, shared by the products whose B is a matrix in memory
// (sgemm.cu) and the implicit-GEMM convolution, whose B is the input's
// patches read in place (conv_implicit.cu). Internal to kernels/cuda.
//
// 128x128 block tiles, K in steps of 8, 256 threads each computing an 8x8
// block of C in registers (two 4x4 quadrants 64 rows/columns apart, so
// shared-memory reads are float4 and conflict-free). Where 128-long tiles
// would pad m or n by a fifth or more (TileRows, TileColumns) that side is
// 64 instead: each thread keeps only the upper or left quadrants (4x8, 8x4
// or 4x4), and that operand's tile is loaded by the first 128 threads.
// Tiles are double buffered: the next K step is fetched from global memory
// into registers while the current one is multiplied, then stored to the
// other shared buffer, with one barrier per step (sgemm_pipelined.cuh has
// the FP32 alternative fed by cp.async, 4 stages, which benchmarks compare).
// The FP32 step and write-out are MultiplyStepFp32 and WriteBlockFp32,
// which both kernels call. A's loads are float4 when
// its rows allow it (leading dimension and offsets multiples of 4), scalar
// with bounds checks at the edges; B's are its source's (DenseB, or the
// convolution's). The epilogue (bias, residual, activation) is applied on
// the way out, where GemmShape says C's columns are; FP32 threads store
// each 4 adjacent columns as one float4 where C's layout allows
// (sgemm_epilogue.cuh).
//
// GemmMath::kTf32 runs the same tiles, loaders and epilogue on the tensor
// cores (the implicit-GEMM convolution's; a B in memory gets the kernel of
// sgemm_tensor.cuh unless a benchmark chooses this one, stages = 2):
// operands are rounded to TF32 (cvt.rna) as they are stored to shared
// memory, and each of the 8 warps computes a 64x32 quadrant of the block as
// 4x4 mma.sync.m16n8k8 tiles (FP32 accumulate; on smaller tiles 64x16 or
// 64x8 quadrants of 4x2 or 4x1 mma tiles). Shared rows are padded by 8
// floats so that the fragment loads (lane = 4 * row + k) hit 32 banks.
//
// GemmMath::kFp16 is the same with operands rounded to FP16 (cvt.rn) and
// mma.sync.m16n8k8 on f16 pairs: each lane reads K rows 2t and 2t+1, so the
// rows are padded by 4 floats instead (row stride = 8 banks per pair step).
// The shared tiles stay FP32 (holding FP16-representable values) so that
// the loaders and the double buffering are the FP32 kernel's.
//
// A B source is a small struct passed by value to the kernel with
//
//   Loader Bind(const GemmShape& shape, int z, int first_row, int column)
//
// giving one thread's loader for entry z of the batch (blockIdx.z), whose
// Fetch(float (&values)[4]) reads B[row][column..column+3] (zeros past K
// or N) starting at row `first_row` and then kBlockK rows further on each
// call; and `template <int kTileRows, int kTileColumns> static constexpr
// bool kQuadStores`: whether the FP32 kernel on such tiles may store C's
// quads as float4 (a source whose loader holds many registers may decline,
// so that its loop does not spill).
#ifndef CONVD_KERNELS_CUDA_SGEMM_KERNEL_CUH_
#define CONVD_KERNELS_CUDA_SGEMM_KERNEL_CUH_

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sgemm_epilogue.cuh"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/cuda/sgemm_mma.cuh"

namespace convd::cuda::sgemm {

inline constexpr int kBlockM = 128, kBlockN = 128, kBlockK = 8;
inline constexpr int kHalfBlock = 64;
inline constexpr int kThreads = 256;

// The side of a tile (rows for m, columns for n) for a product `size` long
// that way: 128, or 64 where 128-long tiles would pad it by a fifth or more
// of their length. Half tiles are the less efficient per FMA (each tile of
// the other operand fetched serves half as many outputs; 3 shared loads per
// 32 FMAs instead of 4 per 64, 2 per 16 on 64x64 tiles), so they are taken
// only where they cut the padding (an odd count of 64-long tiles) by
// enough: sizes up to 64 and 129..192.
constexpr int TileSide(int64_t size) {
  const int64_t full = (size + kBlockM - 1) / kBlockM * kBlockM;
  const int64_t half = (size + kHalfBlock - 1) / kHalfBlock * kHalfBlock;
  return half < full && 5 * (full - size) >= full ? kHalfBlock : kBlockM;
}
static_assert(kBlockM == kBlockN);  // one rule for both sides
static_assert(TileSide(64) == 64 && TileSide(65) == 128 && TileSide(192) == 64 &&
              TileSide(193) == 128 && TileSide(320) == 128 && TileSide(6) == 64);
// The rows of C a block computes for a product of m rows (64-filter
// layers, fully connected layers at batch 9-64, AlexNet's 192-filter conv2
// get 64), and the columns for n columns (a batch-1 convolution's 7x7 or
// 13x13 plane, the 16 Winograd tiles of a 13x13 plane get 64).
constexpr int TileRows(int64_t m) { return TileSide(m); }
constexpr int TileColumns(int64_t n) { return TileSide(n); }

// K steps in flight: the register-staged kernel here, the cp.async one
// (sgemm_pipelined.cuh, FP32) and the tensor-core one (sgemm_tensor.cuh,
// TF32 and FP16); each kernel's number names it in GemmKernelChoice.
inline constexpr int kRegisterStages = 2, kCopyStages = 4, kTensorStages = 3;

// Blocks that must fit on one SM at once: the registers are capped at 128 a
// thread (65,536 / (2 x 256)) so that two do; a 130-register build fits one.
inline constexpr int kMinBlocksPerSm = 2;

// The least K a part of a split product is worth (SplitKFor): under 16
// block steps, the prologue and the partial products' round trip outweigh
// the parallelism.
inline constexpr int kMinSplitK = 128;

// The tiled kernel's grid for `shape` on `kernel`'s tiles (KernelFor): a
// tile of C per block, one batch entry per z.
inline dim3 TileGrid(const GemmShape& shape, const GemmKernelChoice& kernel) {
  return dim3((shape.n + kernel.columns - 1) / kernel.columns,
              (shape.m + kernel.rows - 1) / kernel.rows, shape.batch);
}

// Whether SplitKFor may split the product's K across blocks: a single
// product (batch 1) with K for two parts of kMinSplitK or more.
constexpr bool KSplittable(const GemmShape& shape) {
  return shape.batch == 1 && shape.k >= 2 * kMinSplitK;
}

// Device 0's SM count, read once (sgemm.cu).
int DeviceMultiprocessors();

// The kernel for `shape` in `math` on a device of `multiprocessors` SMs:
// `chosen`'s fields where set; else TileRows(m) x TileColumns(n) tiles,
// then, while twice the product's blocks (tiles x batch) still fit one
// wave (kMinBlocksPerSm an SM), a 128-long side left to the rule is
// halved, the longer dimension's first (GPU_NOTES entry 30: a batch-1
// product gets more blocks, and no halving spills into a second wave).
// The columns only where SplitKFor cannot split K instead (a batch, or K
// under two parts): a fully connected layer's product streams its weights
// (B) through the column tiles, and halving them halves the bytes in
// flight, where splitting K adds blocks without that. Staged through
// registers in FP32 and copied by cp.async on the tensor cores.
inline GemmKernelChoice KernelFor(const GemmShape& shape, const GemmKernelChoice& chosen,
                                  GemmMath math, int multiprocessors) {
  int rows = chosen.rows > 0 ? chosen.rows : TileRows(shape.m);
  int columns = chosen.columns > 0 ? chosen.columns : TileColumns(shape.n);
  const int64_t wave = int64_t{kMinBlocksPerSm} * multiprocessors;
  auto blocks = [&] {
    const dim3 grid = TileGrid(shape, {rows, columns});
    return int64_t{grid.x} * grid.y * grid.z;
  };
  while (2 * blocks() <= wave) {
    const bool rows_free = chosen.rows == 0 && rows == kBlockM;
    const bool columns_free = chosen.columns == 0 && columns == kBlockN && !KSplittable(shape);
    if (rows_free && (!columns_free || shape.m >= shape.n)) {
      rows = kHalfBlock;
    } else if (columns_free) {
      columns = kHalfBlock;
    } else {
      break;
    }
  }
  const int stages = math == GemmMath::kFp32 ? kRegisterStages : kTensorStages;
  return {rows, columns, chosen.stages > 0 ? chosen.stages : stages};
}
// The same on device 0.
inline GemmKernelChoice KernelFor(const GemmShape& shape, const GemmKernelChoice& chosen = {},
                                  GemmMath math = GemmMath::kFp32) {
  return KernelFor(shape, chosen, math, DeviceMultiprocessors());
}
// Whether a choice names a kernel that exists for `math` (0s included: the
// rule's): the register-staged kernel runs every math, the cp.async one
// FP32 only, the tensor-core one TF32 and FP16 only.
inline bool ValidChoice(const GemmKernelChoice& chosen, GemmMath math) {
  auto side = [](int size) { return size == 0 || size == kHalfBlock || size == kBlockM; };
  const bool tensor_cores = math != GemmMath::kFp32;
  return side(chosen.rows) && side(chosen.columns) &&
         (chosen.stages == 0 || chosen.stages == kRegisterStages ||
          (chosen.stages == kCopyStages && !tensor_cores) ||
          (chosen.stages == kTensorStages && tensor_cores));
}

// Floats after each shared row, per math (see above).
template <GemmMath kMath>
inline constexpr int kSharedPad = kMath == GemmMath::kFp16 ? 4 : 8;

// An operand as `kMath`'s products see it (FP32: unchanged).
template <GemmMath kMath>
__device__ __forceinline__ float RoundOperand(float x) {
  if constexpr (kMath == GemmMath::kTf32) return RoundToTf32(x);
  if constexpr (kMath == GemmMath::kFp16) return RoundToFp16(x);
  return x;
}

// B as a row-major matrix in memory, entry z at b + z * stride_b; float4
// loads where kVector (ldb, stride_b and b multiples of 4 floats).
template <bool kVector>
struct DenseB {
  const float* b;
  template <int kTileRows, int kTileColumns>
  static constexpr bool kQuadStores = true;

  struct Loader {
    const float* row;  // B[next row][column]
    int64_t ldb;
    int rows_left, columns_left;  // from the next row and the column on

    __device__ __forceinline__ void Fetch(float (&values)[4]) {
      if (kVector && rows_left > 0 && columns_left > 3) {
        const float4 v = *reinterpret_cast<const float4*>(row);
        values[0] = v.x, values[1] = v.y, values[2] = v.z, values[3] = v.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; ++i) values[i] = rows_left > 0 && i < columns_left ? row[i] : 0.0f;
      }
      row += kBlockK * ldb;
      rows_left -= kBlockK;
    }
  };

  __device__ __forceinline__ Loader Bind(const GemmShape& shape, int z, int first_row,
                                         int column) const {
    return Loader{b + z * shape.stride_b + first_row * shape.ldb + column, shape.ldb,
                  shape.k - first_row, shape.n - column};
  }
};

// Which part of a K step's tiles thread `tid` loads, in both kernels: each
// of the first 2 * kBlockRows threads 4 consecutive K of one A row, each of
// the first 2 * kBlockColumns 4 consecutive columns of one B row (whole
// warps load, so the branches do not diverge; on full tiles they are
// constant).
template <int kBlockRows, int kBlockColumns>
struct TileLoads {
  bool loads_a, loads_b;
  int a_row, a_k;  // A's row in the tile, and the first of its 4 K
  int b_k, b_col;  // B's row (K) in the tile, and the first of its 4 columns

  __device__ __forceinline__ explicit TileLoads(int tid)
      : loads_a(kBlockRows == kBlockM || tid < 2 * kBlockRows),
        loads_b(kBlockColumns == kBlockN || tid < 2 * kBlockColumns),
        a_row(tid >> 1),
        a_k((tid & 1) << 2),
        b_k(tid / (kBlockColumns / 4)),
        b_col(tid % (kBlockColumns / 4) * 4) {}
};

// accumulator += one K step of FP32 products: thread (tx, ty) of the block
// (tx = tid % 16, ty = tid / 16) owns rows ty*4 + {0..3} (+ 64 on 128-row
// tiles) and columns tx*4 + {0..3} (+ 64 likewise) of the tile, read from
// the step's shared tiles, A transposed ([k][m]) and B ([k][n]), as float4.
template <int kRowQuadrants, int kColumnQuadrants, int kARow, int kBRow>
__device__ __forceinline__ void MultiplyStepFp32(
    const float (&a_step)[kBlockK][kARow], const float (&b_step)[kBlockK][kBRow], int tx, int ty,
    float (&accumulator)[4 * kRowQuadrants][4 * kColumnQuadrants]) {
#pragma unroll
  for (int kk = 0; kk < kBlockK; ++kk) {
    float as[4 * kRowQuadrants], bs[4 * kColumnQuadrants];
#pragma unroll
    for (int quadrant = 0; quadrant < kRowQuadrants; ++quadrant) {
      const float4 v = *reinterpret_cast<const float4*>(&a_step[kk][ty * 4 + quadrant * 64]);
      as[quadrant * 4] = v.x, as[quadrant * 4 + 1] = v.y;
      as[quadrant * 4 + 2] = v.z, as[quadrant * 4 + 3] = v.w;
    }
#pragma unroll
    for (int quadrant = 0; quadrant < kColumnQuadrants; ++quadrant) {
      const float4 v = *reinterpret_cast<const float4*>(&b_step[kk][tx * 4 + quadrant * 64]);
      bs[quadrant * 4] = v.x, bs[quadrant * 4 + 1] = v.y;
      bs[quadrant * 4 + 2] = v.z, bs[quadrant * 4 + 3] = v.w;
    }
#pragma unroll
    for (int i = 0; i < 4 * kRowQuadrants; ++i) {
#pragma unroll
      for (int j = 0; j < 4 * kColumnQuadrants; ++j) {
        accumulator[i][j] = fmaf(as[i], bs[j], accumulator[i][j]);
      }
    }
  }
}

// Writes thread (tx, ty)'s FP32 block of C (MultiplyStepFp32's) through the
// epilogue, for the tile at (block_row, block_col). Each thread's columns
// come in quads (4 side by side): a float4 store each where
// `quads_aligned` (VectorsAligned<4>, and the B source allows it) and the
// quad lies in C, which takes a quarter of the store instructions and L2
// requests of four scalar stores (C is most of the memory traffic of a
// short-K product, such as Winograd's).
template <int kRowQuadrants, int kColumnQuadrants>
__device__ __forceinline__ void WriteBlockFp32(
    const float (&accumulator)[4 * kRowQuadrants][4 * kColumnQuadrants], int block_row,
    int block_col, int tx, int ty, bool quads_aligned, const GemmShape& shape,
    const GemmEpilogue& epilogue, const float* residual, float* c) {
#pragma unroll
  for (int i = 0; i < 4 * kRowQuadrants; ++i) {
    const int row = block_row + ty * 4 + (i & 3) + (i >> 2) * 64;
#pragma unroll
    for (int quadrant = 0; quadrant < kColumnQuadrants; ++quadrant) {
      const int col = block_col + tx * 4 + quadrant * 64;
      const float(&quad)[4] = reinterpret_cast<const float(&)[4]>(accumulator[i][quadrant * 4]);
      WriteColumnsWithEpilogue<4>(quad, row, col, quads_aligned, shape, epilogue, residual, c);
    }
  }
}

template <int kBlockRows, int kBlockColumns, bool kVectorA, class BSource, GemmMath kMath>
__global__ __launch_bounds__(kThreads, kMinBlocksPerSm) void SgemmKernel(
    GemmShape shape, const float* __restrict__ a, BSource b_source, float* __restrict__ c,
    GemmEpilogue epilogue) {
  static_assert(kBlockRows == kBlockM || kBlockRows == kHalfBlock);
  static_assert(kBlockColumns == kBlockN || kBlockColumns == kHalfBlock);
  constexpr bool kTensorCores = kMath != GemmMath::kFp32;
  constexpr int kPad = kSharedPad<kMath>;
  // Quadrants (64 rows or columns each) per tile: a thread's FP32 block of C
  // is 4 * kRowQuadrants rows by 4 * kColumnQuadrants columns.
  constexpr int kRowQuadrants = kBlockRows / 64, kColumnQuadrants = kBlockColumns / 64;
  constexpr int kAccumulatorRows = 4 * kRowQuadrants, kAccumulatorColumns = 4 * kColumnQuadrants;
  // Tensor cores: the 8 warps tile the block with 64 x kWarpColumns
  // quadrants of [4][kWarpTilesN] mma tiles.
  constexpr int kWarpsAcrossN = 8 / kRowQuadrants;
  constexpr int kWarpColumns = kBlockColumns / kWarpsAcrossN;
  constexpr int kWarpTilesN = kWarpColumns / 8;
  static_assert(kWarpTilesN >= 1 && 4 * kWarpTilesN * 4 == kAccumulatorRows * kAccumulatorColumns);
  __shared__ __align__(16) float a_tile[2][kBlockK][kBlockRows + kPad];  // A transposed: [k][m]
  __shared__ __align__(16) float b_tile[2][kBlockK][kBlockColumns + kPad];
  const int m = shape.m, n = shape.n, k = shape.k;
  a += blockIdx.z * shape.stride_a;
  c += blockIdx.z * shape.stride_c;
  const float* residual =
      epilogue.residual == nullptr ? nullptr : epilogue.residual + blockIdx.z * shape.stride_c;
  const int tid = threadIdx.x;
  const int block_row = blockIdx.y * kBlockRows;
  const int block_col = blockIdx.x * kBlockColumns;

  const TileLoads<kBlockRows, kBlockColumns> loads(tid);
  const bool loads_a = loads.loads_a, loads_b = loads.loads_b;
  const int a_row = loads.a_row, a_k = loads.a_k, b_k = loads.b_k, b_col = loads.b_col;
  auto b_loader = b_source.Bind(shape, blockIdx.z, b_k, block_col + b_col);
  float a_next[4], b_next[4];

  auto fetch = [&](int k0) {
    const int row = block_row + a_row;
    const int ka = k0 + a_k;
    if (!loads_a) {
      // No A for this thread.
    } else if (kVectorA && row < m && ka + 3 < k) {
      const float4 v = *reinterpret_cast<const float4*>(a + row * shape.lda + ka);
      a_next[0] = v.x, a_next[1] = v.y, a_next[2] = v.z, a_next[3] = v.w;
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a_next[i] = row < m && ka + i < k ? a[row * shape.lda + ka + i] : 0.0f;
      }
    }
    if (loads_b) b_loader.Fetch(b_next);
  };
  auto store = [&](int buffer) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if (loads_a) a_tile[buffer][a_k + i][a_row] = RoundOperand<kMath>(a_next[i]);
    }
    if (loads_b) {
      *reinterpret_cast<float4*>(&b_tile[buffer][b_k][b_col]) =
          make_float4(RoundOperand<kMath>(b_next[0]), RoundOperand<kMath>(b_next[1]),
                      RoundOperand<kMath>(b_next[2]), RoundOperand<kMath>(b_next[3]));
    }
  };

  // FP32: this thread's block of C, rows ty*4 + {0..3} (and + 64 on
  // 128-row tiles), columns tx*4 + {0..3} (and + 64 likewise). Tensor
  // cores: this warp's quadrant, mma tile (i, j) at accumulator registers
  // (i * kWarpTilesN + j) * 4 onwards (row-major).
  const int tx = tid & 15, ty = tid >> 4;
  const int lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int warp = tid >> 5;
  const int warp_m = warp / kWarpsAcrossN * 64, warp_n = warp % kWarpsAcrossN * kWarpColumns;
  float accumulator[kAccumulatorRows][kAccumulatorColumns] = {};
  auto mma_tile = [&](int i, int j) -> float(&)[4] {
    const int first = (i * kWarpTilesN + j) * 4;
    return reinterpret_cast<float(&)[4]>(
        accumulator[first / kAccumulatorColumns][first % kAccumulatorColumns]);
  };
  fetch(0);
  store(0);
  __syncthreads();
  int buffer = 0;
  for (int k0 = 0; k0 < k; k0 += kBlockK) {
    const bool more = k0 + kBlockK < k;
    if (more) fetch(k0 + kBlockK);
    if constexpr (kMath == GemmMath::kFp16) {
      uint32_t b_fragment[kWarpTilesN];
#pragma unroll
      for (int j = 0; j < kWarpTilesN; ++j) {
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
        for (int j = 0; j < kWarpTilesN; ++j) MmaFp16(mma_tile(i, j), a_fragment, b_fragment[j]);
      }
    } else if constexpr (kMath == GemmMath::kTf32) {
      float b_fragment[kWarpTilesN][2];
#pragma unroll
      for (int j = 0; j < kWarpTilesN; ++j) {
        b_fragment[j][0] = b_tile[buffer][t][warp_n + j * 8 + g];
        b_fragment[j][1] = b_tile[buffer][t + 4][warp_n + j * 8 + g];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int m0 = warp_m + i * 16 + g;
        const float a_fragment[4] = {a_tile[buffer][t][m0], a_tile[buffer][t][m0 + 8],
                                     a_tile[buffer][t + 4][m0], a_tile[buffer][t + 4][m0 + 8]};
#pragma unroll
        for (int j = 0; j < kWarpTilesN; ++j) MmaTf32(mma_tile(i, j), a_fragment, b_fragment[j]);
      }
    } else {
      MultiplyStepFp32<kRowQuadrants, kColumnQuadrants>(a_tile[buffer], b_tile[buffer], tx, ty,
                                                        accumulator);
    }
    // The other buffer was last read before the previous barrier.
    if (more) store(buffer ^ 1);
    __syncthreads();
    buffer ^= 1;
  }

  if constexpr (kTensorCores) {
#pragma unroll
    for (int i = 0; i < kAccumulatorRows; ++i) {
#pragma unroll
      for (int j = 0; j < kAccumulatorColumns; ++j) {
        // Register r of mma tile (tile_m, tile_n), as mma_tile lays them out.
        const int tile = (i * kAccumulatorColumns + j) / 4, r = j % 4;
        const int tile_m = tile / kWarpTilesN, tile_n = tile % kWarpTilesN;
        const int row = block_row + warp_m + tile_m * 16 + g + (r >> 1) * 8;
        const int col = block_col + warp_n + tile_n * 8 + 2 * t + (r & 1);
        if (row < m && col < n) {
          WriteWithEpilogue(accumulator[i][j], row, col, shape, epilogue, residual, c);
        }
      }
    }
  } else {
    const bool quads_aligned = BSource::template kQuadStores<kBlockRows, kBlockColumns> &&
                               VectorsAligned<4>(shape, c, residual);
    WriteBlockFp32<kRowQuadrants, kColumnQuadrants>(accumulator, block_row, block_col, tx, ty,
                                                    quads_aligned, shape, epilogue, residual, c);
  }
}

// Whether a matrix's rows take float4 loads: 16-byte aligned start, leading
// dimension and batch stride multiples of 4 floats.
inline bool Aligned(const void* p, int64_t leading, int64_t stride) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && leading % 4 == 0 && stride % 4 == 0;
}

// Calls f(rows, columns) with `kernel`'s tile sides (64 or 128) as
// std::integral_constant<int, ...>: the one place the sides become template
// arguments, for both kernels' launches.
template <class F>
void WithTileSides(const GemmKernelChoice& kernel, F&& f) {
  auto with_columns = [&](auto rows) {
    if (kernel.columns == kHalfBlock) {
      f(rows, std::integral_constant<int, kHalfBlock>());
    } else {
      f(rows, std::integral_constant<int, kBlockN>());
    }
  };
  if (kernel.rows == kHalfBlock) {
    with_columns(std::integral_constant<int, kHalfBlock>());
  } else {
    with_columns(std::integral_constant<int, kBlockM>());
  }
}

// Launches the register-staged kernel over `shape` (TileGrid) for `math` on
// the tiles of KernelFor(shape, chosen) (whose stages are the caller's
// business); A's float4 loads where `vector_a`. The caller checks the shape
// and the choice (ValidChoice); the result is the launch's error
// (cudaErrorInvalidValue for more than 65535 tiles down m).
template <class BSource>
cudaError_t LaunchTiles(const GemmShape& shape, const float* a, bool vector_a,
                        const BSource& b_source, float* c, const GemmEpilogue& epilogue,
                        cudaStream_t stream, GemmMath math, const GemmKernelChoice& chosen = {}) {
  const GemmKernelChoice kernel = KernelFor(shape, chosen);
  const dim3 grid = TileGrid(shape, kernel);
  if (grid.y > 65535) return cudaErrorInvalidValue;
  // The kernel for a tile shape and a math (constants), either A.
  auto launch = [&](auto rows_constant, auto columns_constant, auto math_constant) {
    constexpr int kRows = decltype(rows_constant)::value;
    constexpr int kColumns = decltype(columns_constant)::value;
    constexpr GemmMath kMath = decltype(math_constant)::value;
    const auto kernel_function = vector_a ? SgemmKernel<kRows, kColumns, true, BSource, kMath>
                                          : SgemmKernel<kRows, kColumns, false, BSource, kMath>;
    CONVD_LAUNCH(grid, kThreads, stream, kernel_function, shape, a, b_source, c, epilogue);
  };
  WithTileSides(kernel, [&](auto rows_constant, auto columns_constant) {
    switch (math) {
      case GemmMath::kFp32:
        launch(rows_constant, columns_constant,
               std::integral_constant<GemmMath, GemmMath::kFp32>());
        break;
      case GemmMath::kTf32:
        launch(rows_constant, columns_constant,
               std::integral_constant<GemmMath, GemmMath::kTf32>());
        break;
      case GemmMath::kFp16:
        launch(rows_constant, columns_constant,
               std::integral_constant<GemmMath, GemmMath::kFp16>());
        break;
    }
  });
  return cudaGetLastError();
}

}  // namespace convd::cuda::sgemm

#endif  // CONVD_KERNELS_CUDA_SGEMM_KERNEL_CUH_
