// Our SGEMM (sgemm_launch.h): the tiled kernels on a B in memory (FP32:
// sgemm_kernel.cuh; tensor cores: sgemm_tensor.cuh); a kernel for products
// of at most 8 rows (fully connected layers at small batches), for which a
// tile computes 56+ rows of zeros; and the split of K for products too
// small to fill the device.
#include <algorithm>
#include <type_traits>

#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sgemm_kernel.cuh"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/cuda/sgemm_pipelined.cuh"
#include "kernels/cuda/sgemm_tensor.cuh"

namespace convd::cuda {
namespace {

using sgemm::kBlockK;

// The split-K second pass: C = epilogue(the sum of `parts` partial products,
// each [m, n] and dense, added in order so that every run gives the same
// bits).
__global__ void SumPartsKernel(const float* __restrict__ partial, int parts, GemmShape shape,
                               GemmEpilogue epilogue, float* c) {
  const int n = shape.n;
  const int64_t count = int64_t{shape.m} * n;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    float sum = 0.0f;
    for (int part = 0; part < parts; ++part) sum += partial[part * count + i];
    sgemm::WriteWithEpilogue(sum, static_cast<int>(i / n), static_cast<int>(i % n), shape, epilogue,
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

// Products of at most kSmallMMaxRows rows (m): a 64-row tile would
// compute 56+ rows of zeros, so instead each thread owns 4 columns of C for
// every row and streams its columns of B once, K row after K row (float4
// loads where B's rows allow), while A's few rows come from shared memory,
// a tile of K at a time. Reading B is the cost: at m <= 8 that is at most
// 8 FMAs per float loaded, below what the device's bandwidth can feed, so
// the kernel is bound by memory as a matrix-vector product should be.
// Operands are rounded as `kMath` rounds them (FP32 accumulation). A K
// range per grid y (`chunk` rows each; one range unless split), the batch
// per grid z; with `partial`, a range's raw sums go to its dense [m, n]
// slice for SumPartsKernel instead of C.
constexpr int kSmallMMaxRows = 8;
constexpr int kSmallMColumnsPerBlock = 4 * kThreadsPerBlock;
constexpr int kSmallMTileK = 64;
constexpr int kSmallMBlocksPerSm = 2;
// B's rows (float4 loads) a thread has in flight at once: 128 bytes, so
// that the 2 blocks of 256 threads on each SM keep 64 KB on the way.
constexpr int kSmallMLoadsInFlight = 8;
// A part's least K: enough rows that B's loads outweigh the part's
// partial sums, written and read back (m x n floats).
constexpr int kSmallMMinPartRows = 64;
constexpr int kSmallMMaxParts = 256;

template <int kRows, bool kVectorB, GemmMath kMath>
__global__ __launch_bounds__(kThreadsPerBlock, kSmallMBlocksPerSm) void SmallMKernel(
    GemmShape shape, const float* __restrict__ a, const float* __restrict__ b,
    float* __restrict__ c, GemmEpilogue epilogue, int64_t chunk, float* __restrict__ partial) {
  __shared__ float a_tile[kRows][kSmallMTileK];
  const int m = shape.m, n = shape.n;
  const int z = blockIdx.z, part = blockIdx.y;
  a += z * shape.stride_a;
  b += z * shape.stride_b;
  const int64_t k_begin = part * chunk;
  const int64_t k_end = min(int64_t{shape.k}, k_begin + chunk);
  const int col = (blockIdx.x * kThreadsPerBlock + threadIdx.x) * 4;
  float accumulator[kRows][4] = {};
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kSmallMTileK) {
    const int steps = static_cast<int>(min(int64_t{kSmallMTileK}, k_end - k0));
    for (int i = threadIdx.x; i < kRows * kSmallMTileK; i += kThreadsPerBlock) {
      const int row = i / kSmallMTileK, kk = i % kSmallMTileK;
      a_tile[row][kk] =
          row < m && kk < steps ? sgemm::RoundOperand<kMath>(a[row * shape.lda + k0 + kk]) : 0.0f;
    }
    __syncthreads();
    // accumulator += A[:, kk] x B[kk][col..col+3].
    auto accumulate = [&](int kk, float(&values)[4]) {
#pragma unroll
      for (int j = 0; j < 4; ++j) values[j] = sgemm::RoundOperand<kMath>(values[j]);
#pragma unroll
      for (int row = 0; row < kRows; ++row) {
        const float a_value = a_tile[row][kk];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          accumulator[row][j] = fmaf(a_value, values[j], accumulator[row][j]);
        }
      }
    };
    const float* b_row = b + k0 * shape.ldb + col;
    int kk = 0;
    if (kVectorB && col + 3 < n) {
      // Groups of rows whose loads are all issued before their FMAs, so
      // that kSmallMLoadsInFlight loads per thread are in flight: this
      // kernel is bound by how many bytes are (with the decision per row
      // inside an unrolled loop, each load was used at once and the
      // compiler kept one).
      for (; kk + kSmallMLoadsInFlight <= steps; kk += kSmallMLoadsInFlight) {
        float4 loaded[kSmallMLoadsInFlight];
#pragma unroll
        for (int u = 0; u < kSmallMLoadsInFlight; ++u) {
          loaded[u] = *reinterpret_cast<const float4*>(b_row + u * shape.ldb);
        }
        b_row += kSmallMLoadsInFlight * shape.ldb;
#pragma unroll
        for (int u = 0; u < kSmallMLoadsInFlight; ++u) {
          float values[4] = {loaded[u].x, loaded[u].y, loaded[u].z, loaded[u].w};
          accumulate(kk + u, values);
        }
      }
      for (; kk < steps; ++kk, b_row += shape.ldb) {
        const float4 v = *reinterpret_cast<const float4*>(b_row);
        float values[4] = {v.x, v.y, v.z, v.w};
        accumulate(kk, values);
      }
    } else if (col < n) {  // no return before the barriers
      for (; kk < steps; ++kk, b_row += shape.ldb) {
        float values[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) values[j] = col + j < n ? b_row[j] : 0.0f;
        accumulate(kk, values);
      }
    }
    __syncthreads();
  }
  if (col >= n) return;
  c += z * shape.stride_c;
  const float* residual =
      epilogue.residual == nullptr ? nullptr : epilogue.residual + z * shape.stride_c;
#pragma unroll
  for (int row = 0; row < kRows; ++row) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (row >= m || col + j >= n) continue;
      if (partial != nullptr) {
        partial[(int64_t{part} * m + row) * n + col + j] = accumulator[row][j];
      } else {
        sgemm::WriteWithEpilogue(accumulator[row][j], row, col + j, shape, epilogue, residual, c);
      }
    }
  }
}

// SGEMM blocks resident on one SM (its launch bounds guarantee them).
constexpr int kBlocksPerSm = sgemm::kMinBlocksPerSm;
using sgemm::kMinSplitK;
constexpr int kMaxSplitK = 32;

// The product in one kernel (shape, math and choice already checked).
cudaError_t LaunchOnePass(const GemmShape& shape, const float* a, const float* b, float* c,
                          const GemmEpilogue& epilogue, cudaStream_t stream, GemmMath math,
                          const GemmKernelChoice& chosen) {
  const GemmKernelChoice kernel = sgemm::KernelFor(shape, chosen, math);
  if (kernel.stages == sgemm::kCopyStages) {
    return sgemm::LaunchPipelinedTiles(shape, a, b, c, epilogue, stream, chosen);
  }
  if (kernel.stages == sgemm::kTensorStages) {
    // The rule's tensor-core kernel, on a device whose blocks may have its
    // stages; else the register-staged kernel, unless that one was chosen.
    if (chosen.stages == sgemm::kTensorStages || sgemm::TensorTilesFit(kernel, math)) {
      return sgemm::LaunchTensorTiles(shape, a, b, c, epilogue, stream, math, chosen);
    }
  }
  const bool vector_a = sgemm::Aligned(a, shape.lda, shape.stride_a);
  if (sgemm::Aligned(b, shape.ldb, shape.stride_b)) {
    return sgemm::LaunchTiles(shape, a, vector_a, sgemm::DenseB<true>{b}, c, epilogue, stream, math,
                              chosen);
  }
  return sgemm::LaunchTiles(shape, a, vector_a, sgemm::DenseB<false>{b}, c, epilogue, stream, math,
                            chosen);
}

// Pass 1 of a tiled split: the K range of each part as one entry of a
// batched product, into dense [m, n] partials; the shorter last part on
// its own.
cudaError_t LaunchTiledParts(const GemmShape& shape, const float* a, const float* b, float* partial,
                             cudaStream_t stream, GemmMath math, const GemmKernelChoice& chosen,
                             int64_t chunk, int part_count, int whole_parts) {
  const int64_t partial_floats = int64_t{shape.m} * shape.n;
  GemmShape part = shape;
  part.k = static_cast<int>(chunk);
  part.ldc = shape.n;
  part.image_columns = 0;  // dense partials; SumPartsKernel places them
  part.stride_a = chunk;
  part.stride_b = chunk * shape.ldb;
  part.stride_c = partial_floats;
  part.batch = whole_parts;
  if (whole_parts > 0) {  // none when K is under one part
    if (cudaError_t e = LaunchOnePass(part, a, b, partial, {}, stream, math, chosen);
        e != cudaSuccess) {
      return e;
    }
  }
  if (part_count > whole_parts) {
    part.k = static_cast<int>(shape.k - whole_parts * chunk);
    part.batch = 1;
    return LaunchOnePass(part, a + whole_parts * chunk, b + whole_parts * chunk * shape.ldb,
                         partial + whole_parts * partial_floats, {}, stream, math, chosen);
  }
  return cudaSuccess;
}

// SmallMKernel over `shape` (m <= kSmallMMaxRows; shape and math already
// checked) in `parts` K ranges of `chunk` rows: into `partial` (dense
// [parts][m][n]) unless it is null, then into C.
cudaError_t LaunchSmallM(const GemmShape& shape, const float* a, const float* b, float* c,
                         const GemmEpilogue& epilogue, cudaStream_t stream, GemmMath math,
                         int64_t chunk, int parts, float* partial) {
  const dim3 grid((shape.n + kSmallMColumnsPerBlock - 1) / kSmallMColumnsPerBlock, parts,
                  shape.batch);
  const bool vector_b = sgemm::Aligned(b, shape.ldb, shape.stride_b);
  // The kernel for the smallest row count that holds m.
  auto launch = [&](auto rows) {
    constexpr int kRows = decltype(rows)::value;
    auto with_math = [&](auto math_constant) {
      constexpr GemmMath kMath = decltype(math_constant)::value;
      const auto kernel =
          vector_b ? SmallMKernel<kRows, true, kMath> : SmallMKernel<kRows, false, kMath>;
      CONVD_LAUNCH(grid, kThreadsPerBlock, stream, kernel, shape, a, b, c, epilogue, chunk,
                   partial);
    };
    switch (math) {
      case GemmMath::kFp32:
        with_math(std::integral_constant<GemmMath, GemmMath::kFp32>());
        break;
      case GemmMath::kTf32:
        with_math(std::integral_constant<GemmMath, GemmMath::kTf32>());
        break;
      case GemmMath::kFp16:
        with_math(std::integral_constant<GemmMath, GemmMath::kFp16>());
        break;
    }
  };
  if (shape.m == 1) {
    launch(std::integral_constant<int, 1>());
  } else if (shape.m == 2) {
    launch(std::integral_constant<int, 2>());
  } else if (shape.m <= 4) {
    launch(std::integral_constant<int, 4>());
  } else {
    launch(std::integral_constant<int, kSmallMMaxRows>());
  }
  return cudaGetLastError();
}

}  // namespace

namespace sgemm {

int DeviceMultiprocessors() {
  static const int count = [] {
    cudaDeviceProp properties;
    return cudaGetDeviceProperties(&properties, 0) == cudaSuccess ? properties.multiProcessorCount
                                                                  : 1;
  }();
  return count;
}

}  // namespace sgemm

int SplitKFor(const GemmShape& shape, int multiprocessors) {
  if (shape.batch != 1 || multiprocessors <= 1) return 1;
  if (shape.m <= kSmallMMaxRows) {
    // SmallMKernel: enough K ranges for a wave of blocks, each range long
    // enough to be worth its partial sums.
    const int64_t column_blocks = (shape.n + kSmallMColumnsPerBlock - 1) / kSmallMColumnsPerBlock;
    const int64_t wave = int64_t{kSmallMBlocksPerSm} * multiprocessors;
    const int64_t min_rows = std::max(kSmallMMinPartRows, 8 * shape.m);
    const int64_t parts = std::min<int64_t>(
        {(wave + column_blocks - 1) / column_blocks, shape.k / min_rows, kSmallMMaxParts});
    return parts > 1 ? static_cast<int>(parts) : 1;
  }
  if (!sgemm::KSplittable(shape)) return 1;
  const dim3 grid =
      sgemm::TileGrid(shape, sgemm::KernelFor(shape, {}, GemmMath::kFp32, multiprocessors));
  const int64_t blocks = int64_t{grid.x} * grid.y;
  const int64_t wave = int64_t{kBlocksPerSm} * multiprocessors;
  if (blocks == 0 || 2 * blocks > wave) return 1;  // half a wave or more already
  const int64_t parts = std::min<int64_t>({shape.k / kMinSplitK, wave / blocks, kMaxSplitK});
  return parts > 1 ? static_cast<int>(parts) : 1;
}

int SplitKFor(const GemmShape& shape) { return SplitKFor(shape, sgemm::DeviceMultiprocessors()); }

GemmKernelChoice KernelChosenFor(const GemmShape& shape) { return sgemm::KernelFor(shape); }

GemmKernelChoice KernelChosenFor(const GemmShape& shape, int multiprocessors,
                                 const GemmKernelChoice& chosen) {
  return sgemm::KernelFor(shape, chosen, GemmMath::kFp32, multiprocessors);
}

int64_t SplitKWorkspaceFloats(const GemmShape& shape, int parts) {
  if (parts <= 1 || shape.k <= 0) return 0;
  return SplitK(shape.k, parts).count * int64_t{shape.m} * shape.n;
}

cudaError_t LaunchSgemm(const GemmShape& shape, const float* a, const float* b, float* c,
                        const GemmEpilogue& epilogue, cudaStream_t stream, GemmMath math,
                        const GemmWorkspace& workspace) {
  if (shape.m < 0 || shape.n < 0 || shape.k < 0 || shape.batch < 0) return cudaErrorInvalidValue;
  if (shape.m == 0 || shape.n == 0 || shape.batch == 0) return cudaSuccess;
  const bool c_rows_fit =
      shape.image_columns > 0 ? shape.ldc > 0 && shape.image_stride >= 0 : shape.ldc >= shape.n;
  if (c == nullptr || !c_rows_fit || shape.image_columns < 0 ||
      (shape.k > 0 && (a == nullptr || b == nullptr)) ||
      (shape.k > 0 && (shape.lda < shape.k || shape.ldb < shape.n)) || shape.batch > 65535) {
    return cudaErrorInvalidValue;
  }
  if ((math != GemmMath::kFp32 && math != GemmMath::kTf32 && math != GemmMath::kFp16) ||
      !sgemm::ValidChoice(workspace.kernel, math)) {
    return cudaErrorInvalidValue;
  }
  const int parts = workspace.split_k > 0 ? workspace.split_k : SplitKFor(shape);
  bool split = parts > 1 && shape.batch == 1 && shape.k > 0;
  if (split &&
      (workspace.data == nullptr || workspace.floats < SplitKWorkspaceFloats(shape, parts))) {
    // A forced split must get its memory; a chosen one is only an option.
    if (workspace.split_k > 1) return cudaErrorInvalidValue;
    split = false;
  }
  const auto [chunk, part_count, whole_parts] =
      split ? SplitK(shape.k, parts) : KSplit{shape.k, 1, 1};
  const int64_t partial_floats = int64_t{shape.m} * shape.n;
  cudaError_t error;
  if (shape.m <= kSmallMMaxRows) {
    error = LaunchSmallM(shape, a, b, c, epilogue, stream, math, chunk, part_count,
                         split ? workspace.data : nullptr);
  } else if (split) {
    error = LaunchTiledParts(shape, a, b, workspace.data, stream, math, workspace.kernel, chunk,
                             part_count, whole_parts);
  } else {
    return LaunchOnePass(shape, a, b, c, epilogue, stream, math, workspace.kernel);
  }
  if (error != cudaSuccess || !split) return error;
  // Pass 2: their sum, with the epilogue.
  CONVD_LAUNCH(GridBlocks(partial_floats), kThreadsPerBlock, stream, SumPartsKernel, workspace.data,
               part_count, shape, epilogue, c);
  return cudaGetLastError();
}

}  // namespace convd::cuda
