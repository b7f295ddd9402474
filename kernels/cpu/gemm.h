// The CPU backend's use of OpenBLAS (chosen over BLIS by measurement:
// bench/RESULTS.md): a matrix-vector product, for fully connected layers at
// batch 1. Every matrix-matrix product runs on convd's own GEMM
// (packed_gemm.h). BLAS runs single-threaded: the kernels parallelise over
// their own tiles with ThreadPool, so the two never oversubscribe the cores.
#ifndef CONVD_KERNELS_CPU_GEMM_H_
#define CONVD_KERNELS_CPU_GEMM_H_

namespace convd::cpu {

// y[m] = alpha * A[m x n] * x[n] + beta * y (A row-major, lda >= n). A
// product with one row of input streams A once, unpacked, where a GEMM
// with m or n of 1 copies its panels first: bench/RESULTS.md, "Fully
// connected layers at batch 1".
void Sgemv(int m, int n, float alpha, const float* a, int lda, const float* x, float beta,
           float* y);

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_GEMM_H_
