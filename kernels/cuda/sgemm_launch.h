// Our single-precision GEMM, the engine of im2col convolution and fully
// connected layers on the GPU (no cuBLAS in the serving path):
//
//   C[b] = act(A[b] x B[b] + bias + residual[b])     for b in [0, batch)
//
// Row-major: A is [m, k] with row stride lda, B is [k, n] with ldb, C and
// residual are [m, n] with ldc. stride_a/b/c step between batch entries (0
// shares one matrix, e.g. the weights). bias has m entries (one per row:
// conv filters) or n (one per column: fully connected outputs), or is null.
// Plain C++ for nvcc and the host compiler alike; errors are the launch's
// cudaError_t (cuda_check.h turns them into a Status).
#ifndef CONVD_KERNELS_CUDA_SGEMM_LAUNCH_H_
#define CONVD_KERNELS_CUDA_SGEMM_LAUNCH_H_

#include <cuda_runtime.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "kernels/cuda/device_activation.h"

namespace convd::cuda {

struct GemmEpilogue {
  const float* bias = nullptr;
  bool bias_per_row = true;
  const float* residual = nullptr;  // laid out like C
  DeviceActivationFunction activation;
};

// The arithmetic of the products: FP32 FMA (the default, as accurate as the
// CPU), or tensor cores with FP32 accumulation on inputs rounded to TF32
// (10 mantissa bits, FP32's range) or to FP16 (10 mantissa bits, values
// beyond +-65504 become infinite): about 1e-3 relative error, several
// times the throughput.
enum class GemmMath { kFp32, kTf32, kFp16 };

// Each math's names: for flags and cache keys ("fp32"), and for people, in
// plans and tables ("FP32").
struct GemmMathNames {
  GemmMath math;
  const char* name;
  const char* label;
};
inline constexpr GemmMathNames kGemmMaths[] = {
    {GemmMath::kFp32, "fp32", "FP32"},
    {GemmMath::kTf32, "tf32", "TF32"},
    {GemmMath::kFp16, "fp16", "FP16"},
};

constexpr const GemmMathNames& NamesOf(GemmMath math) {
  for (const GemmMathNames& names : kGemmMaths) {
    if (names.math == math) return names;
  }
  return kGemmMaths[0];
}
constexpr const char* GemmMathName(GemmMath math) { return NamesOf(math).name; }
constexpr const char* GemmMathLabel(GemmMath math) { return NamesOf(math).label; }

// For messages about a name that GemmMathFromName refused.
inline constexpr char kGemmMathChoices[] = "fp32, tf32 or fp16";

// The math GemmMathName calls `name`; nullopt for any other name.
inline std::optional<GemmMath> GemmMathFromName(std::string_view name) {
  for (const GemmMathNames& names : kGemmMaths) {
    if (name == names.name) return names.math;
  }
  return std::nullopt;
}

struct GemmShape {
  int m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  int batch = 1;
  // C's columns as images, for a convolution of several images as one
  // product (their output positions side by side, so no tile spans the
  // ragged end of each image's plane): when image_columns > 0, column j is
  // position j % image_columns of image j / image_columns, stored (in C and
  // in the residual) at image * image_stride + row * ldc + position.
  // Positions from ldc on are padding: computed, never written.
  int image_columns = 0;
  int64_t image_stride = 0;
};

// Products of up to 8 rows (m: a fully connected layer's batch) run on a
// kernel of their own, which streams B once as a matrix-vector product
// does; larger ones on tiles of 128 columns by 128 rows, or 64 on a side
// where that pads it much less (sizes up to 64, 129..192), or where
// 128-long sides would leave the device under one block an SM, half its
// resident two (a batch-1 convolution's product; halved before K is
// split, SplitKFor).
//
// The tiled kernel a product of 9+ rows runs on, where a benchmark or test
// chooses (products of up to 8 rows ignore it); 0 leaves a field to the
// rule. `rows`, `columns`: the tiles' sides, 64 or 128 (the rule: above).
// `stages`: how K steps reach shared memory: 2, through registers, the
// next step loaded while the current one is multiplied (the rule's in
// FP32, K steps of 8); 4, copied by cp.async three steps ahead (GPU_NOTES
// entry 23; FP32 only); or 3, the tensor-core kernel's K steps of 32
// copied by cp.async two ahead (GPU_NOTES entry 26; the rule's in TF32 and
// FP16, which 2 sends back to the FP32 kernel's steps). Other values, 4
// with tensor-core math and 3 with FP32 are cudaErrorInvalidValue.
struct GemmKernelChoice {
  int rows = 0, columns = 0, stages = 0;
};
// What the rule gives a product of 9+ rows on device 0, or on a device of
// `multiprocessors` SMs, with `chosen`'s fields kept where set.
GemmKernelChoice KernelChosenFor(const GemmShape& shape);
GemmKernelChoice KernelChosenFor(const GemmShape& shape, int multiprocessors,
                                 const GemmKernelChoice& chosen = {});

// Device memory the SGEMM may use to split K across blocks. A product whose
// grid would fill under half the device (a fully connected layer at a small
// batch: a few blocks of columns, or one row of tiles) is computed
// as `parts` partial products over K ranges into `data`, then summed with
// the epilogue by a second kernel, always in the same order, so the
// results are the same from run to run (if not bit for bit those of one
// pass).
struct GemmWorkspace {
  float* data = nullptr;
  int64_t floats = 0;
  // 0: as SplitKFor(shape) says, when `floats` suffice (else one pass);
  // 1: one pass; n > 1: about n parts (tests, benchmarks), and
  // cudaErrorInvalidValue if `floats` are too few.
  int split_k = 0;
  // As the rule says, unless chosen (benchmarks comparing kernels).
  GemmKernelChoice kernel = {};
};

// How many parts LaunchSgemm splits K into on a device with
// `multiprocessors` SMs: 1 unless the product is a single one (batch 1)
// whose grid leaves the device idle and whose K is long enough to share.
// Up to 8 rows: parts enough for a wave of blocks, at least max(64, 8m)
// rows of K each, at most 256. Tiled: where the grid is under half a wave,
// at least 128 rows each, at most 32 parts.
int SplitKFor(const GemmShape& shape, int multiprocessors);
// The same for device 0, whose SM count is read once.
int SplitKFor(const GemmShape& shape);
// The workspace floats a split into about `parts` needs (0 for 1 part).
int64_t SplitKWorkspaceFloats(const GemmShape& shape, int parts);

// cudaErrorInvalidValue for negative sizes, leading dimensions smaller than
// a row (C's not positive, where C's columns are images), null matrices
// with work to do, or a forced split without its workspace.
cudaError_t LaunchSgemm(const GemmShape& shape, const float* a, const float* b, float* c,
                        const GemmEpilogue& epilogue, cudaStream_t stream,
                        GemmMath math = GemmMath::kFp32, const GemmWorkspace& workspace = {});

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_SGEMM_LAUNCH_H_
