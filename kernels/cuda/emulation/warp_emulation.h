// The warp-level instructions our kernels issue through inline PTX, for the
// emulated builds: cvt.rna.tf32.f32, mma.sync.aligned.m16n8k8 (TF32, and
// F16 with FP32 accumulation), m16n8k16 (F16) and ldmatrix (x4). The
// fragment layouts are the PTX ISA's ("Matrix Fragments for mma.m16n8k8"
// and "...k16"), written here from the ISA's tables independently of the
// kernel that uses them: each lane writes its
// fragments into the warp's matrices, the 32 lanes meet at a barrier, and
// the 16x8 result is computed once and read back lane by lane.
#ifndef CONVD_KERNELS_CUDA_EMULATION_WARP_EMULATION_H_
#define CONVD_KERNELS_CUDA_EMULATION_WARP_EMULATION_H_

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cuda/emulation/block_scheduler.h"
#include "kernels/cuda/emulation/emulated_runtime.h"

namespace convd::cuda::emulation {

// cvt.rna.tf32.f32: 10 mantissa bits, to nearest, ties away from zero;
// NaN and infinities pass through.
inline float RoundToTf32(float x) {
  if (!std::isfinite(x)) return x;
  return std::bit_cast<float>((std::bit_cast<uint32_t>(x) + 0x1000u) & 0xFFFFE000u);
}

namespace internal {

// One warp's mma in flight, as whole matrices: each lane writes its
// fragments of A (16x8 or 16x16), B (8x8 or 16x8) and C (16x8) where its
// instruction's layout puts them, the lanes meet at a barrier, D = A x B +
// C is computed once, and each lane reads its fragment of D (laid out as
// C). An ldmatrix likewise: each lane hands in its row's address, and the
// 32 lanes' registers are gathered once, after the barrier.
struct MmaWarp {
  float a[16][16], b[16][8], c[16][8], d[16][8];  // K 8 or 16 of a and b used
  unsigned calls[32];  // per lane: mma instructions issued so far
  unsigned computed;   // the last call number whose results are in d
  const void* rows[32];    // ldmatrix: each lane's row address
  uint32_t loaded[32][4];  // and each lane's registers
  unsigned load_calls[32], loads_computed;
};

inline MmaWarp& CurrentWarp(unsigned& lane) {
  const unsigned thread = LinearThreadIndex();
  lane = thread % 32;
  auto* warps = static_cast<MmaWarp*>(BlockScratch(32 * sizeof(MmaWarp)));
  return warps[thread / 32];
}

// A .tf32 operand as the mma reads it: the low 13 bits of the register
// are not used (a kernel that skips cvt.rna gets truncation, not rounding).
inline float Tf32Operand(float x) {
  return std::bit_cast<float>(std::bit_cast<uint32_t>(x) & 0xFFFFE000u);
}

// The low 16 bits as an IEEE half (the host compiler's _Float16).
inline float HalfToFloat(uint32_t bits16) {
  return static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(bits16 & 0xFFFFu)));
}

// Hands this lane's accumulator in (C and D of m16n8k8 and m16n8k16, for
// every input type: c0 [g][2t], c1 [g][2t+1], c2 [g+8][2t], c3 [g+8][2t+1]
// with g = lane / 4, t = lane % 4), waits for the warp, takes its part of
// D = A x B + C over the first k_size columns of A and rows of B.
// Products of TF32 or FP16 operands are exact in FP32; the sums are FP32
// (the hardware's order of summation is unspecified; this is k order).
inline void Exchange(MmaWarp& w, unsigned lane, float (&d)[4], int k_size = 8) {
  const unsigned g = lane / 4, t = lane % 4;
  float* const rows[2] = {w.c[g], w.c[g + 8]};
  rows[0][2 * t] = d[0], rows[0][2 * t + 1] = d[1];
  rows[1][2 * t] = d[2], rows[1][2 * t + 1] = d[3];
  const unsigned call = ++w.calls[lane];
  Barrier();
  if (w.computed < call) {
    for (int i = 0; i < 16; ++i) {
      for (int j = 0; j < 8; ++j) w.d[i][j] = w.c[i][j];
      for (int k = 0; k < k_size; ++k) {
        for (int j = 0; j < 8; ++j) w.d[i][j] += w.a[i][k] * w.b[k][j];  // exact products
      }
    }
    w.computed = call;
  }
  d[0] = w.d[g][2 * t], d[1] = w.d[g][2 * t + 1];
  d[2] = w.d[g + 8][2 * t], d[3] = w.d[g + 8][2 * t + 1];
}

}  // namespace internal

// ldmatrix.sync.aligned.m8n8.x4.shared.b16: four 8x8 matrices of 16-bit
// elements, lanes 8i..8i+7 giving the addresses of matrix i's rows 0..7
// (16 bytes each, 16-byte aligned); lane L receives in r[i] the 32-bit
// pair at row L / 4, pairs column L % 4 of matrix i. On 32-bit data it
// loads an 8x4 block per matrix, element [L / 4][L % 4].
inline void LoadMatrixX4(uint32_t (&r)[4], const void* row_address) {
  if (reinterpret_cast<uintptr_t>(row_address) % 16 != 0) Trap();  // misaligned address
  unsigned lane;
  internal::MmaWarp& w = internal::CurrentWarp(lane);
  w.rows[lane] = row_address;
  const unsigned call = ++w.load_calls[lane];
  Barrier();
  if (w.loads_computed < call) {
    for (unsigned to = 0; to < 32; ++to) {
      for (unsigned i = 0; i < 4; ++i) {
        const auto* row = static_cast<const unsigned char*>(w.rows[8 * i + to / 4]);
        std::memcpy(&w.loaded[to][i], row + 4 * (to % 4), sizeof(uint32_t));
      }
    }
    w.loads_computed = call;
  }
  for (unsigned i = 0; i < 4; ++i) r[i] = w.loaded[lane][i];
}

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, d += a x b
// (g = lane / 4, t = lane % 4):
//   A (row major): a0 A[g][t], a1 A[g+8][t], a2 A[g][t+4], a3 A[g+8][t+4]
//   B (column major): b0 B[t][g], b1 B[t+4][g]
inline void MmaTf32(float (&d)[4], const float (&a)[4], const float (&b)[2]) {
  unsigned lane;
  internal::MmaWarp& w = internal::CurrentWarp(lane);
  const unsigned g = lane / 4, t = lane % 4;
  w.a[g][t] = internal::Tf32Operand(a[0]), w.a[g + 8][t] = internal::Tf32Operand(a[1]);
  w.a[g][t + 4] = internal::Tf32Operand(a[2]), w.a[g + 8][t + 4] = internal::Tf32Operand(a[3]);
  w.b[t][g] = internal::Tf32Operand(b[0]), w.b[t + 4][g] = internal::Tf32Operand(b[1]);
  internal::Exchange(w, lane, d);
}

namespace internal {

// An F16 mma of K = kK (8 or 16), d += a x b, from its kK / 4 registers of
// A and kK / 8 of B, each an F16 pair with the first element in the low
// half (g = lane / 4, t = lane % 4): a_i {A[r][c], A[r][c+1]} with
// r = g + 8 * (i % 2), c = 2t + 8 * (i / 2); b_i {B[2t + 8i][g],
// B[2t + 8i + 1][g]}.
template <int kK>
void MmaFp16Pairs(float (&d)[4], const uint32_t* a, const uint32_t* b) {
  unsigned lane;
  MmaWarp& w = CurrentWarp(lane);
  const unsigned g = lane / 4, t = lane % 4;
  for (unsigned i = 0; i < kK / 4; ++i) {
    const unsigned row = g + 8 * (i % 2), column = 2 * t + 8 * (i / 2);
    w.a[row][column] = HalfToFloat(a[i]);
    w.a[row][column + 1] = HalfToFloat(a[i] >> 16);
  }
  for (unsigned i = 0; i < kK / 8; ++i) {
    w.b[2 * t + 8 * i][g] = HalfToFloat(b[i]);
    w.b[2 * t + 8 * i + 1][g] = HalfToFloat(b[i] >> 16);
  }
  Exchange(w, lane, d, kK);
}

}  // namespace internal

// mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32, d += a x b. F16 pairs,
// the first element in the low half (g = lane / 4, t = lane % 4):
//   A: a0 {A[g][2t], A[g][2t+1]}, a1 {A[g+8][2t], A[g+8][2t+1]}
//   B: b0 {B[2t][g], B[2t+1][g]}
inline void MmaFp16(float (&d)[4], const uint32_t (&a)[2], uint32_t b) {
  internal::MmaFp16Pairs<8>(d, a, &b);
}

// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32, d += a x b, the same
// pairs over K 16:
//   A: a0 {A[g][2t], A[g][2t+1]}, a1 {A[g+8][2t], A[g+8][2t+1]},
//      a2 {A[g][2t+8], A[g][2t+9]}, a3 {A[g+8][2t+8], A[g+8][2t+9]}
//   B: b0 {B[2t][g], B[2t+1][g]}, b1 {B[2t+8][g], B[2t+9][g]}
inline void MmaFp16K16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  internal::MmaFp16Pairs<16>(d, a, b);
}

}  // namespace convd::cuda::emulation

#endif  // CONVD_KERNELS_CUDA_EMULATION_WARP_EMULATION_H_
