// Our SGEMM (sgemm_launch.h): the kernel (sgemm_kernel.cuh) on a B in
// memory, and the split of K for products too small to fill the device.
#include <algorithm>

#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sgemm_kernel.cuh"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda {
namespace {

using sgemm::kBlockK;
using sgemm::kBlockM;
using sgemm::kBlockN;

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
    sgemm::WriteWithEpilogue(sum, static_cast<int>(i / n), static_cast<int>(i % n), ldc, epilogue,
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

// SGEMM blocks resident on one SM (its launch bounds guarantee them).
constexpr int kBlocksPerSm = sgemm::kMinBlocksPerSm;
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

// The product in one kernel (shape and math already checked).
cudaError_t LaunchOnePass(const GemmShape& shape, const float* a, const float* b, float* c,
                          const GemmEpilogue& epilogue, cudaStream_t stream, GemmMath math) {
  const bool vector_a = sgemm::Aligned(a, shape.lda, shape.stride_a);
  if (sgemm::Aligned(b, shape.ldb, shape.stride_b)) {
    return sgemm::LaunchTiles(shape, a, vector_a, sgemm::DenseB<true>{b}, c, epilogue, stream,
                              math);
  }
  return sgemm::LaunchTiles(shape, a, vector_a, sgemm::DenseB<false>{b}, c, epilogue, stream, math);
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
