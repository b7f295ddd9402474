// Vectors of floats for the CPU Winograd transforms, a tile a lane: the
// products by the transforms' constant matrices, and shuffles that
// transpose 4 x 4 blocks in each 16-byte chunk of a vector. Templates over
// the vector's width, always inlined: each build (SSE, AVX2, AVX-512) gets
// its own code for the width it uses.
#ifndef CONVD_KERNELS_CPU_WINOGRAD_VECTORS_H_
#define CONVD_KERNELS_CPU_WINOGRAD_VECTORS_H_

#include <cstddef>
#include <utility>

// Everything here is always inlined, so no vector crosses a call between
// the builds: GCC's -Wpsabi warning (that such a call's ABI would differ
// between them) does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace convd::cpu::winograd_vectors {

// Vectors of kWidth floats: a tile a lane. (A trait, as in packed_gemm.cc.)
template <int kWidth>
struct Floats {
  typedef float Vector __attribute__((vector_size(kWidth * sizeof(float))));
};

// Shuffles of two vectors that act on each 16-byte chunk alone, as SSE's
// unpcklps, unpckhps, movlhps and movhlps do (and their AVX forms, chunk by
// chunk): together, a 4 x 4 transpose in every chunk.
enum class ChunkShuffle { kUnpackLow, kUnpackHigh, kLowHalves, kHighHalves };

// The source of output lane `lane` (of `width`; b's lanes follow a's).
constexpr int ChunkShuffleSource(ChunkShuffle shuffle, int lane, int width) {
  const int chunk = lane / 4 * 4, r = lane % 4;
  switch (shuffle) {
    case ChunkShuffle::kUnpackLow:  // a0 b0 a1 b1
      return (r % 2 ? width : 0) + chunk + r / 2;
    case ChunkShuffle::kUnpackHigh:  // a2 b2 a3 b3
      return (r % 2 ? width : 0) + chunk + 2 + r / 2;
    case ChunkShuffle::kLowHalves:  // a0 a1 b0 b1
      return r < 2 ? chunk + r : width + chunk + r - 2;
    case ChunkShuffle::kHighHalves:  // a2 a3 b2 b3
      return r < 2 ? chunk + 2 + r : width + chunk + r;
  }
  return 0;
}

template <ChunkShuffle kShuffle, int kWidth, std::size_t... kLane>
[[gnu::always_inline]] inline typename Floats<kWidth>::Vector Shuffle(
    typename Floats<kWidth>::Vector a, typename Floats<kWidth>::Vector b,
    std::index_sequence<kLane...>) {
  return __builtin_shufflevector(a, b, ChunkShuffleSource(kShuffle, kLane, kWidth)...);
}
template <ChunkShuffle kShuffle, int kWidth>
[[gnu::always_inline]] inline typename Floats<kWidth>::Vector Shuffle(
    typename Floats<kWidth>::Vector a, typename Floats<kWidth>::Vector b) {
  return Shuffle<kShuffle, kWidth>(a, b, std::make_index_sequence<kWidth>());
}

// out[l]'s chunk c = (a0, a1, a2, a3)'s lane l of chunk c: a 4 x 4
// transpose in every chunk.
template <int kWidth>
[[gnu::always_inline]] inline void TransposeChunks(typename Floats<kWidth>::Vector a0,
                                                   typename Floats<kWidth>::Vector a1,
                                                   typename Floats<kWidth>::Vector a2,
                                                   typename Floats<kWidth>::Vector a3,
                                                   typename Floats<kWidth>::Vector (&out)[4]) {
  using Vector = typename Floats<kWidth>::Vector;
  const Vector t0 = Shuffle<ChunkShuffle::kUnpackLow, kWidth>(a0, a1);   // a0[0] a1[0] a0[1] a1[1]
  const Vector t1 = Shuffle<ChunkShuffle::kUnpackLow, kWidth>(a2, a3);   // a2[0] a3[0] a2[1] a3[1]
  const Vector t2 = Shuffle<ChunkShuffle::kUnpackHigh, kWidth>(a0, a1);  // a0[2] a1[2] a0[3] a1[3]
  const Vector t3 = Shuffle<ChunkShuffle::kUnpackHigh, kWidth>(a2, a3);  // a2[2] a3[2] a2[3] a3[3]
  out[0] = Shuffle<ChunkShuffle::kLowHalves, kWidth>(t0, t1);
  out[1] = Shuffle<ChunkShuffle::kHighHalves, kWidth>(t0, t1);
  out[2] = Shuffle<ChunkShuffle::kLowHalves, kWidth>(t2, t3);
  out[3] = Shuffle<ChunkShuffle::kHighHalves, kWidth>(t2, t3);
}

// One vector of kChunks chunks, chunk c from chunks[c].
template <int kChunks>
[[gnu::always_inline]] inline typename Floats<kChunks * 4>::Vector Concatenate(
    const typename Floats<4>::Vector (&chunks)[kChunks]) {
  if constexpr (kChunks == 1) {
    return chunks[0];
  } else if constexpr (kChunks == 2) {
    return __builtin_shufflevector(chunks[0], chunks[1], 0, 1, 2, 3, 4, 5, 6, 7);
  } else {
    static_assert(kChunks == 4);
    const auto low = __builtin_shufflevector(chunks[0], chunks[1], 0, 1, 2, 3, 4, 5, 6, 7);
    const auto high = __builtin_shufflevector(chunks[2], chunks[3], 0, 1, 2, 3, 4, 5, 6, 7);
    return __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  }
}

// sum_x coefficients[x] * term(x) over the non-zero coefficients, from
// the first of them (adding it to a zero could not be folded away:
// -0 + 0 is +0). Inlined and unrolled: the zero entries cost nothing and
// the others are constants.
template <typename Vector, int kInner, typename Term>
[[gnu::always_inline]] inline Vector Combination(const double (&coefficients)[kInner], Term term) {
  Vector acc = {};
  bool first = true;
#pragma GCC unroll 8
  for (int x = 0; x < kInner; ++x) {
    if (coefficients[x] == 0) continue;
    const Vector product = static_cast<float>(coefficients[x]) * term(x);
    acc = first ? product : acc + product;
    first = false;
  }
  return acc;
}

// out = matrix x in, and out = in x matrix^T, for the transforms'
// constant matrices.
template <typename Vector, int kRows, int kInner, int kColumns>
[[gnu::always_inline]] inline void MultiplyLeft(const double (&matrix)[kRows][kInner],
                                                const Vector (&in)[kInner][kColumns],
                                                Vector (&out)[kRows][kColumns]) {
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < kColumns; ++j) {
      out[i][j] =
          Combination<Vector>(matrix[i], [&](int x) [[gnu::always_inline]] { return in[x][j]; });
    }
  }
}
template <typename Vector, int kRows, int kInner, int kColumns>
[[gnu::always_inline]] inline void MultiplyRightT(const Vector (&in)[kRows][kInner],
                                                  const double (&matrix)[kColumns][kInner],
                                                  Vector (&out)[kRows][kColumns]) {
#pragma GCC unroll 8
  for (int i = 0; i < kRows; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < kColumns; ++j) {
      out[i][j] =
          Combination<Vector>(matrix[j], [&](int x) [[gnu::always_inline]] { return in[i][x]; });
    }
  }
}

}  // namespace convd::cpu::winograd_vectors

#pragma GCC diagnostic pop

#endif  // CONVD_KERNELS_CPU_WINOGRAD_VECTORS_H_
