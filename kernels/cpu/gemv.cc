// Four rows of A at a time, each with two vector accumulators (eight
// independent multiply-add chains: two FMA units of four cycles' latency),
// x's vector shared by the four rows; the row's last n % lanes columns
// scalar. OpenBLAS's sgemv, which this replaced, took 2.7-3.9x as long on
// LeNet's layers (weights in cache) and 1.7-3.1x on AlexNet's (bench/
// gemv_bench; bench/RESULTS.md, "convd's own GEMV").
#include "kernels/cpu/gemv.h"

namespace convd::cpu {
namespace {

// Vectors of kLanes floats, read anywhere in a row (aligned to a float).
template <int kLanes>
struct GemvVectors {
  typedef float Vector __attribute__((vector_size(kLanes * sizeof(float))));
  typedef float Unaligned
      __attribute__((vector_size(kLanes * sizeof(float)), aligned(alignof(float)), may_alias));
};

template <int kLanes>
[[gnu::always_inline]] inline float SumOfLanes(typename GemvVectors<kLanes>::Vector v) {
  float sum = 0.0f;
#pragma GCC unroll 16
  for (int lane = 0; lane < kLanes; ++lane) sum += v[lane];
  return sum;
}

// Rows [i, i + kRows) of y.
template <int kRows, int kLanes>
[[gnu::always_inline]] inline void Rows(int i, int n, const float* a, int64_t lda, const float* x,
                                        float* y) {
  using Vector = typename GemvVectors<kLanes>::Vector;
  using Unaligned = typename GemvVectors<kLanes>::Unaligned;
  const float* row[kRows];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) row[r] = a + (i + r) * lda;
  Vector even[kRows] = {}, odd[kRows] = {};
  int j = 0;
  for (; j + 2 * kLanes <= n; j += 2 * kLanes) {
    const Vector x0 = *reinterpret_cast<const Unaligned*>(x + j);
    const Vector x1 = *reinterpret_cast<const Unaligned*>(x + j + kLanes);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      even[r] += *reinterpret_cast<const Unaligned*>(row[r] + j) * x0;
      odd[r] += *reinterpret_cast<const Unaligned*>(row[r] + j + kLanes) * x1;
    }
  }
  if (j + kLanes <= n) {
    const Vector x0 = *reinterpret_cast<const Unaligned*>(x + j);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) even[r] += *reinterpret_cast<const Unaligned*>(row[r] + j) * x0;
    j += kLanes;
  }
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
    float sum = SumOfLanes<kLanes>(even[r] + odd[r]);
    for (int tail = j; tail < n; ++tail) sum += row[r][tail] * x[tail];
    y[i + r] = sum;
  }
}

template <int kLanes>
[[gnu::always_inline]] inline void GemvOf(int m, int n, const float* a, int64_t lda, const float* x,
                                          float* y) {
  int i = 0;
  for (; i + 4 <= m; i += 4) Rows<4, kLanes>(i, n, a, lda, x, y);
  for (; i < m; ++i) Rows<1, kLanes>(i, n, a, lda, x, y);
}

// fp-contract=fast lets the compiler fuse sum += a * x into one FMA.
[[gnu::target("avx512f,avx2,fma"), gnu::optimize("fp-contract=fast")]] void GemvAvx512(
    int m, int n, const float* a, int64_t lda, const float* x, float* y) {
  GemvOf<16>(m, n, a, lda, x, y);
}

[[gnu::target("avx2,fma"), gnu::optimize("fp-contract=fast")]] void GemvAvx2(
    int m, int n, const float* a, int64_t lda, const float* x, float* y) {
  GemvOf<8>(m, n, a, lda, x, y);
}

void GemvBaseline(int m, int n, const float* a, int64_t lda, const float* x, float* y) {
  GemvOf<4>(m, n, a, lda, x, y);
}

}  // namespace

void GemvForTesting(CpuBuild build, int m, int n, const float* a, int64_t lda, const float* x,
                    float* y) {
  CallBuild(build, GemvBaseline, GemvAvx2, GemvAvx512, m, n, a, lda, x, y);
}

void Gemv(int m, int n, const float* a, int64_t lda, const float* x, float* y) {
  static const CpuBuild build = WidestCpuBuild();
  GemvForTesting(build, m, n, a, lda, x, y);
}

}  // namespace convd::cpu
