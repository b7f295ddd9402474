// Four rows of A at a time, each with two vector accumulators (eight
// independent multiply-add chains: two FMA units of four cycles' latency),
// x's vector shared by the four rows. At the end of a row the accumulators
// are halved (16 lanes to 8 to 4), each width taking in the columns left
// that fill it, and the four rows' last four lanes are added across in one
// transpose; only n % 4 columns are scalar. OpenBLAS's sgemv, which this
// replaced, took 2.7-3.9x as long on LeNet's layers (weights in cache) and
// 1.7-3.1x on AlexNet's on an Intel Xeon (bench/gemv_bench; bench/
// RESULTS.md, "convd's own GEMV"). On an AMD EPYC (Zen 4) a lane-by-lane
// sum at each row's end, 15 dependent scalar adds, had left LeNet's fc2
// (84 x 120) at 0.55x OpenBLAS; halving the lanes made it 1.3x
// ("the GEMV's row ends").
//
// Two to eight vectors at once (RowsOfBatch): each vector of A loaded once
// for all of them, one or two rows at a time (as many accumulators as the
// registers hold), with A prefetched ahead; the rows end as above.
//
// Half-precision weights (GemvHalf) run the same loops, widened to floats
// as they are loaded: one conversion instruction a vector in the AVX2 and
// AVX-512 builds (F16C), HalfToFloat a value in the baseline's.
#include "kernels/cpu/gemv.h"

#include <cstddef>
#include <utility>

#include "kernels/cpu/half.h"

namespace convd::cpu {
namespace {

// Vectors of kLanes floats, read anywhere in a row (aligned to a float).
template <int kLanes>
struct GemvVectors {
  typedef float Vector __attribute__((vector_size(kLanes * sizeof(float))));
  typedef float Unaligned
      __attribute__((vector_size(kLanes * sizeof(float)), aligned(alignof(float)), may_alias));
};

// Always inlined, so no vector crosses a call: GCC's -Wpsabi warning, that
// such a call's ABI would differ between the builds, does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

template <int kLanes>
using VectorOf = typename GemvVectors<kLanes>::Vector;

template <int kLanes>
[[gnu::always_inline]] inline VectorOf<kLanes> LoadVector(const float* p) {
  return *reinterpret_cast<const typename GemvVectors<kLanes>::Unaligned*>(p);
}

// How the kernels read A's entries: LoadVector<kLanes>(p), kLanes of them
// as floats, and ToFloat(p[j]), one.
struct FloatWeights {
  using Weight = float;
  template <int kLanes>
  [[gnu::always_inline]] static VectorOf<kLanes> LoadVector(const float* p) {
    return ::convd::cpu::LoadVector<kLanes>(p);
  }
  static float ToFloat(float w) { return w; }
};

// Halves widened by F16C's vcvtph2ps (AVX-512's for 16 lanes): for the
// AVX2 and AVX-512 builds only. Inline assembly, not the intrinsics: an
// intrinsic inlines only into a function compiled for its target, and the
// loops below are compiled for none until they are inlined into a build.
// (ASan does not see the assembly's reads; the float path's, over the same
// loops, it does.)
struct HalfWeightsF16c {
  using Weight = uint16_t;
  template <int kLanes>
  [[gnu::always_inline]] static VectorOf<kLanes> LoadVector(const uint16_t* p) {
    struct Halves {
      uint16_t lanes[kLanes];
    };
    VectorOf<kLanes> widened;
    asm("vcvtph2ps %1, %0" : "=v"(widened) : "m"(*reinterpret_cast<const Halves*>(p)));
    return widened;
  }
  static float ToFloat(uint16_t w) { return HalfToFloat(w); }
};

// Halves widened one by one (the SSE baseline has no conversion
// instruction).
struct HalfWeightsOneByOne {
  using Weight = uint16_t;
  template <int kLanes>
  [[gnu::always_inline]] static VectorOf<kLanes> LoadVector(const uint16_t* p) {
    VectorOf<kLanes> v;
    for (int lane = 0; lane < kLanes; ++lane) v[lane] = HalfToFloat(p[lane]);
    return v;
  }
  static float ToFloat(uint16_t w) { return HalfToFloat(w); }
};

// v's low half plus its high half: half the lanes, one vector add (a
// lane-by-lane sum of 16 lanes is a chain of 15 dependent scalar adds).
template <int kLanes, std::size_t... kLane>
[[gnu::always_inline]] inline VectorOf<kLanes / 2> AddHalves(VectorOf<kLanes> v,
                                                             std::index_sequence<kLane...>) {
  return __builtin_shufflevector(v, v, kLane...) +
         __builtin_shufflevector(v, v, (kLane + kLanes / 2)...);
}

// Each row's four partial sums added: sums[r] = the lanes of acc[r]. Four
// rows transposed and added in four shuffles and three adds.
template <int kRows>
[[gnu::always_inline]] inline void AddLanesOfFour(const VectorOf<4> (&acc)[kRows],
                                                  float (&sums)[kRows]) {
  if constexpr (kRows == 4) {
    // [a0+a2, b0+b2, a1+a3, b1+b3] for rows a, b; the same for c, d.
    const VectorOf<4> ab = __builtin_shufflevector(acc[0], acc[1], 0, 4, 1, 5) +
                           __builtin_shufflevector(acc[0], acc[1], 2, 6, 3, 7);
    const VectorOf<4> cd = __builtin_shufflevector(acc[2], acc[3], 0, 4, 1, 5) +
                           __builtin_shufflevector(acc[2], acc[3], 2, 6, 3, 7);
    const VectorOf<4> all =
        __builtin_shufflevector(ab, cd, 0, 1, 4, 5) + __builtin_shufflevector(ab, cd, 2, 3, 6, 7);
    for (int r = 0; r < 4; ++r) sums[r] = all[r];
  } else {
    for (int r = 0; r < kRows; ++r) sums[r] = (acc[r][0] + acc[r][2]) + (acc[r][1] + acc[r][3]);
  }
}

// Rows [i, i + kRows) of y, from accumulators of kLanes lanes holding
// columns [0, j): each step halves the lanes and, if kLanes / 2 columns
// are left, takes them in; under 4 columns are left for the scalar tail.
template <typename Weights, int kRows, int kLanes>
[[gnu::always_inline]] inline void FinishRows(const VectorOf<kLanes> (&acc)[kRows], int j, int n,
                                              const typename Weights::Weight* const (&row)[kRows],
                                              const float* x, float* y) {
  if constexpr (kLanes > 4) {
    constexpr int kHalf = kLanes / 2;
    VectorOf<kHalf> half[kRows];
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      half[r] = AddHalves<kLanes>(acc[r], std::make_index_sequence<kHalf>());
    }
    if (j + kHalf <= n) {
      const VectorOf<kHalf> x0 = LoadVector<kHalf>(x + j);
#pragma GCC unroll 4
      for (int r = 0; r < kRows; ++r) {
        half[r] += Weights::template LoadVector<kHalf>(row[r] + j) * x0;
      }
      j += kHalf;
    }
    FinishRows<Weights, kRows, kHalf>(half, j, n, row, x, y);
  } else {
    float sums[kRows];
    AddLanesOfFour<kRows>(acc, sums);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      for (int tail = j; tail < n; ++tail) sums[r] += Weights::ToFloat(row[r][tail]) * x[tail];
      y[r] = sums[r];
    }
  }
}

// Rows [i, i + kRows) of y.
template <typename Weights, int kRows, int kLanes>
[[gnu::always_inline]] inline void Rows(int i, int n, const typename Weights::Weight* a,
                                        int64_t lda, const float* x, float* y) {
  using Vector = VectorOf<kLanes>;
  const typename Weights::Weight* row[kRows];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) row[r] = a + (i + r) * lda;
  Vector even[kRows] = {}, odd[kRows] = {};
  int j = 0;
  for (; j + 2 * kLanes <= n; j += 2 * kLanes) {
    const Vector x0 = LoadVector<kLanes>(x + j);
    const Vector x1 = LoadVector<kLanes>(x + j + kLanes);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      even[r] += Weights::template LoadVector<kLanes>(row[r] + j) * x0;
      odd[r] += Weights::template LoadVector<kLanes>(row[r] + j + kLanes) * x1;
    }
  }
  if (j + kLanes <= n) {
    const Vector x0 = LoadVector<kLanes>(x + j);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r)
      even[r] += Weights::template LoadVector<kLanes>(row[r] + j) * x0;
    j += kLanes;
  }
  Vector acc[kRows];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) acc[r] = even[r] + odd[r];
  FinishRows<Weights, kRows, kLanes>(acc, j, n, row, x, y + i);
}

// How far ahead RowsOfBatch prefetches A's rows, in entries. Each core
// streams two rows at a time, too few for the hardware's prefetchers alone:
// AlexNet's fc6 at batch 8 on halves took 6.5 ms without, 4.8 with.
constexpr int kPrefetchAhead = 1024;

// Rows [i, i + kRows) of y for kBatch vectors x at once (x's rows, ldx
// apart; y's, ldy apart): each vector of A's row is loaded (and widened)
// once for all of them, so a small batch reads the weights once, as batch
// 1 does. kRows x kBatch accumulators, each its own chain.
template <typename Weights, int kRows, int kBatch, int kLanes>
[[gnu::always_inline]] inline void RowsOfBatch(int i, int n, const typename Weights::Weight* a,
                                               int64_t lda, const float* x, int64_t ldx, float* y,
                                               int64_t ldy) {
  using Vector = VectorOf<kLanes>;
  const typename Weights::Weight* row[kRows];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) row[r] = a + (i + r) * lda;
  Vector acc[kBatch][kRows] = {};
  int j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    Vector w[kRows];
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      __builtin_prefetch(row[r] + j + kPrefetchAhead);
      w[r] = Weights::template LoadVector<kLanes>(row[r] + j);
    }
#pragma GCC unroll 8
    for (int b = 0; b < kBatch; ++b) {
      const Vector xb = LoadVector<kLanes>(x + b * ldx + j);
#pragma GCC unroll 4
      for (int r = 0; r < kRows; ++r) acc[b][r] += w[r] * xb;
    }
  }
#pragma GCC unroll 8
  for (int b = 0; b < kBatch; ++b) {
    FinishRows<Weights, kRows, kLanes>(acc[b], j, n, row, x + b * ldx, y + b * ldy + i);
  }
}

template <typename Weights, int kLanes, int kBatch>
[[gnu::always_inline]] inline void GemvOfBatch(int m, int n, const typename Weights::Weight* a,
                                               int64_t lda, const float* x, int64_t ldx, float* y,
                                               int64_t ldy) {
  // Accumulators for two rows of each vector where the registers hold
  // them (AVX-512's 32; 16 elsewhere), else one row.
  constexpr int kRows = kLanes == 16 || kBatch <= 4 ? 2 : 1;
  int i = 0;
  for (; i + kRows <= m; i += kRows) {
    RowsOfBatch<Weights, kRows, kBatch, kLanes>(i, n, a, lda, x, ldx, y, ldy);
  }
  for (; i < m; ++i) RowsOfBatch<Weights, 1, kBatch, kLanes>(i, n, a, lda, x, ldx, y, ldy);
}

template <typename Weights, int kLanes>
[[gnu::always_inline]] inline void GemvOf(int m, int n, const typename Weights::Weight* a,
                                          int64_t lda, int batch, const float* x, int64_t ldx,
                                          float* y, int64_t ldy) {
  switch (batch) {
    case 1: {
      int i = 0;
      for (; i + 4 <= m; i += 4) Rows<Weights, 4, kLanes>(i, n, a, lda, x, y);
      for (; i < m; ++i) Rows<Weights, 1, kLanes>(i, n, a, lda, x, y);
      return;
    }
#define CONVD_GEMV_BATCH(b) \
  case b:                   \
    return GemvOfBatch<Weights, kLanes, b>(m, n, a, lda, x, ldx, y, ldy);
      CONVD_GEMV_BATCH(2)
      CONVD_GEMV_BATCH(3)
      CONVD_GEMV_BATCH(4)
      CONVD_GEMV_BATCH(5)
      CONVD_GEMV_BATCH(6)
      CONVD_GEMV_BATCH(7)
      CONVD_GEMV_BATCH(8)
#undef CONVD_GEMV_BATCH
  }
}

// The builds, for floats or halves. fp-contract=fast lets the compiler
// fuse sum += a * x into one FMA.
template <typename Weights>
[[gnu::target("avx512f,avx2,fma,f16c"), gnu::optimize("fp-contract=fast")]] void GemvAvx512(
    int m, int n, const typename Weights::Weight* a, int64_t lda, int batch, const float* x,
    int64_t ldx, float* y, int64_t ldy) {
  GemvOf<Weights, 16>(m, n, a, lda, batch, x, ldx, y, ldy);
}

template <typename Weights>
[[gnu::target("avx2,fma,f16c"), gnu::optimize("fp-contract=fast")]] void GemvAvx2(
    int m, int n, const typename Weights::Weight* a, int64_t lda, int batch, const float* x,
    int64_t ldx, float* y, int64_t ldy) {
  GemvOf<Weights, 8>(m, n, a, lda, batch, x, ldx, y, ldy);
}

template <typename Weights>
void GemvBaseline(int m, int n, const typename Weights::Weight* a, int64_t lda, int batch,
                  const float* x, int64_t ldx, float* y, int64_t ldy) {
  GemvOf<Weights, 4>(m, n, a, lda, batch, x, ldx, y, ldy);
}

}  // namespace

void GemvForTesting(CpuBuild build, int m, int n, const float* a, int64_t lda, int batch,
                    const float* x, int64_t ldx, float* y, int64_t ldy) {
  CallBuild(build, GemvBaseline<FloatWeights>, GemvAvx2<FloatWeights>, GemvAvx512<FloatWeights>, m,
            n, a, lda, batch, x, ldx, y, ldy);
}

void Gemv(int m, int n, const float* a, int64_t lda, int batch, const float* x, int64_t ldx,
          float* y, int64_t ldy) {
  static const CpuBuild build = WidestCpuBuild();
  GemvForTesting(build, m, n, a, lda, batch, x, ldx, y, ldy);
}

void GemvHalfForTesting(CpuBuild build, int m, int n, const uint16_t* a, int64_t lda, int batch,
                        const float* x, int64_t ldx, float* y, int64_t ldy) {
  CallBuild(build, GemvBaseline<HalfWeightsOneByOne>, GemvAvx2<HalfWeightsF16c>,
            GemvAvx512<HalfWeightsF16c>, m, n, a, lda, batch, x, ldx, y, ldy);
}

void GemvHalf(int m, int n, const uint16_t* a, int64_t lda, int batch, const float* x, int64_t ldx,
              float* y, int64_t ldy) {
  static const CpuBuild build = WidestCpuBuild();
  GemvHalfForTesting(build, m, n, a, lda, batch, x, ldx, y, ldy);
}

}  // namespace convd::cpu
