// Single-precision GEMM on row-major matrices, through OpenBLAS (chosen over
// BLIS by measurement: bench/RESULTS.md). BLAS runs single-threaded: the
// kernels parallelise over their own tiles with ThreadPool, so the two never
// oversubscribe the cores.
//   C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C
#ifndef CONVD_KERNELS_CPU_GEMM_H_
#define CONVD_KERNELS_CPU_GEMM_H_

namespace convd::cpu {

void Sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha,
           const float* a, int lda, const float* b, int ldb, float beta,
           float* c, int ldc);

// y[m] = alpha * A[m x n] * x[n] + beta * y (A row-major, lda >= n). A
// product with one row of input streams A once, unpacked, where Sgemm with
// m or n of 1 copies its panels first: bench/RESULTS.md, "Fully connected
// layers at batch 1".
void Sgemv(int m, int n, float alpha, const float* a, int lda, const float* x, float beta,
           float* y);

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_GEMM_H_
