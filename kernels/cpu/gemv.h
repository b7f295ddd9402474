// Matrix-vector products, y = A x for one to eight vectors x, A row-major
// [m, n]: the fully connected layer at batches 1-8, bound by reading A. convd's own, built for
// SSE, AVX2 and AVX-512 (the widest the CPU runs), single-threaded: the
// layer splits its features across threads itself.
#ifndef CONVD_KERNELS_CPU_GEMV_H_
#define CONVD_KERNELS_CPU_GEMV_H_

#include <cstdint>

#include "kernels/cpu/cpu_features.h"

namespace convd::cpu {

// Up to this many vectors at once.
inline constexpr int kGemvMaxBatch = 8;

// For each of `batch` vectors x_b = x + b * ldx (b < batch), y_b = A x_b
// into y + b * ldy: y_b[i] = sum over j < n of a[i * lda + j] * x_b[j],
// for i in [0, m). 1 <= batch <= kGemvMaxBatch; lda, ldx >= n; y must not
// alias a or x. Each vector of A is read once for the whole batch: a
// fully connected layer at batch 2-8 reads its weights once, as at 1.
void Gemv(int m, int n, const float* a, int64_t lda, int batch, const float* x, int64_t ldx,
          float* y, int64_t ldy);

// The same with A's entries stored as halves (kernels/cpu/half.h),
// widened to floats as they are read: half the bytes to read, products
// and sums in float.
void GemvHalf(int m, int n, const uint16_t* a, int64_t lda, int batch, const float* x, int64_t ldx,
              float* y, int64_t ldy);

// One build of Gemv or GemvHalf, for tests; the CPU must support `build`.
void GemvForTesting(CpuBuild build, int m, int n, const float* a, int64_t lda, int batch,
                    const float* x, int64_t ldx, float* y, int64_t ldy);
void GemvHalfForTesting(CpuBuild build, int m, int n, const uint16_t* a, int64_t lda, int batch,
                        const float* x, int64_t ldx, float* y, int64_t ldy);

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_GEMV_H_
