#include "kernels/cpu/gemm.h"

#include <cblas.h>

#include <mutex>

namespace convd::cpu {

namespace {

void SingleThreaded() {
  static std::once_flag single_threaded;
  std::call_once(single_threaded, [] { openblas_set_num_threads(1); });
}

}  // namespace

void Sgemv(int m, int n, float alpha, const float* a, int lda, const float* x, float beta,
           float* y) {
  SingleThreaded();
  cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, alpha, a, lda, x, 1, beta, y, 1);
}

}  // namespace convd::cpu
