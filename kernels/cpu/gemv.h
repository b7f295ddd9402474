// Matrix-vector product, y = A x with A row-major [m, n]: the fully
// connected layer at batch 1, bound by reading A. convd's own, built for
// SSE, AVX2 and AVX-512 (the widest the CPU runs), single-threaded: the
// layer splits its features across threads itself.
#ifndef CONVD_KERNELS_CPU_GEMV_H_
#define CONVD_KERNELS_CPU_GEMV_H_

#include <cstdint>

#include "kernels/cpu/cpu_features.h"

namespace convd::cpu {

// y[i] = sum over j < n of a[i * lda + j] * x[j], for i in [0, m).
// lda >= n; y must not alias a or x.
void Gemv(int m, int n, const float* a, int64_t lda, const float* x, float* y);

// The same with A's entries stored as halves (kernels/cpu/half.h),
// widened to floats as they are read: half the bytes to read, products
// and sums in float.
void GemvHalf(int m, int n, const uint16_t* a, int64_t lda, const float* x, float* y);

// One build of Gemv or GemvHalf, for tests; the CPU must support `build`.
void GemvForTesting(CpuBuild build, int m, int n, const float* a, int64_t lda, const float* x,
                    float* y);
void GemvHalfForTesting(CpuBuild build, int m, int n, const uint16_t* a, int64_t lda,
                        const float* x, float* y);

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_GEMV_H_
