// The warp-level instructions our kernels issue through inline PTX, for the
// emulated builds: cvt.rna.tf32.f32 and mma.sync.aligned.m16n8k8 (TF32, and
// F16 with FP32 accumulation). The fragment layouts are the PTX ISA's
// ("Matrix Fragments for mma.m16n8k8"), written here from the ISA's tables
// independently of the kernel that uses them: each lane hands in its
// fragments, the warp's 32 lanes meet at a barrier, and the 16x8 result is
// computed once and handed back lane by lane.
#ifndef CONVD_KERNELS_CUDA_EMULATION_WARP_EMULATION_H_
#define CONVD_KERNELS_CUDA_EMULATION_WARP_EMULATION_H_

#include <bit>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/emulation/block_scheduler.h"

namespace convd::cuda::emulation {

// See the fmaf macro in cuda_emulation.h.
inline float FusedMultiplyAdd(float a, float b, float c) {
  return static_cast<float>(double{a} * double{b} + double{c});
}

// cvt.rna.tf32.f32: 10 mantissa bits, to nearest, ties away from zero;
// NaN and infinities pass through.
inline float RoundToTf32(float x) {
  if (!std::isfinite(x)) return x;
  return std::bit_cast<float>((std::bit_cast<uint32_t>(x) + 0x1000u) & 0xFFFFE000u);
}

namespace internal {

// One warp's mma in flight: each lane's A (16x8) and B (8x8) fragments as
// floats, its accumulator in, and the results out.
struct MmaWarp {
  float a[32][4], b[32][2], c[32][4];
  float d[32][4];
  unsigned calls[32];  // per lane: mma instructions issued so far
  unsigned computed;   // the last call number whose results are in d
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

// D = A x B + C for the warp, once all lanes have handed in their fragments
// in the m16n8k8 layout (g = lane / 4, t = lane % 4):
//   A (row major): a0 A[g][t], a1 A[g+8][t], a2 A[g][t+4], a3 A[g+8][t+4]
//   B (column major): b0 B[t][g], b1 B[t+4][g]
//   C, D: c0 [g][2t], c1 [g][2t+1], c2 [g+8][2t], c3 [g+8][2t+1]
// Products of TF32 or FP16 operands are exact in FP32; the sums are FP32
// (the hardware's order of summation is unspecified; this is k order).
inline void ComputeWarp(MmaWarp& w) {
  float a[16][8], b[8][8], d[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    a[g][t] = w.a[lane][0], a[g + 8][t] = w.a[lane][1];
    a[g][t + 4] = w.a[lane][2], a[g + 8][t + 4] = w.a[lane][3];
    b[t][g] = w.b[lane][0], b[t + 4][g] = w.b[lane][1];
    d[g][2 * t] = w.c[lane][0], d[g][2 * t + 1] = w.c[lane][1];
    d[g + 8][2 * t] = w.c[lane][2], d[g + 8][2 * t + 1] = w.c[lane][3];
  }
  for (int i = 0; i < 16; ++i) {
    for (int k = 0; k < 8; ++k) {
      for (int j = 0; j < 8; ++j) d[i][j] += a[i][k] * b[k][j];  // exact products
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    w.d[lane][0] = d[g][2 * t], w.d[lane][1] = d[g][2 * t + 1];
    w.d[lane][2] = d[g + 8][2 * t], w.d[lane][3] = d[g + 8][2 * t + 1];
  }
}

// Hands this lane's fragments in, waits for the warp, takes its results.
inline void Exchange(MmaWarp& w, unsigned lane, float (&d)[4]) {
  const unsigned call = ++w.calls[lane];
  Barrier();
  if (w.computed < call) {
    ComputeWarp(w);
    w.computed = call;
  }
  for (int r = 0; r < 4; ++r) d[r] = w.d[lane][r];
}

}  // namespace internal

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, d += a x b.
inline void MmaTf32(float (&d)[4], const float (&a)[4], const float (&b)[2]) {
  unsigned lane;
  internal::MmaWarp& w = internal::CurrentWarp(lane);
  for (int r = 0; r < 4; ++r) w.a[lane][r] = internal::Tf32Operand(a[r]), w.c[lane][r] = d[r];
  for (int r = 0; r < 2; ++r) w.b[lane][r] = internal::Tf32Operand(b[r]);
  internal::Exchange(w, lane, d);
}

// mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32, d += a x b. F16 pairs,
// the first element in the low half (g = lane / 4, t = lane % 4):
//   A: a0 {A[g][2t], A[g][2t+1]}, a1 {A[g+8][2t], A[g+8][2t+1]}
//   B: b0 {B[2t][g], B[2t+1][g]}
// Stored in the TF32 layout's slots (same A and B, other lanes' columns).
inline void MmaFp16(float (&d)[4], const uint32_t (&a)[2], uint32_t b) {
  unsigned lane;
  internal::MmaWarp& w = internal::CurrentWarp(lane);
  const float a0 = internal::HalfToFloat(a[0]), a1 = internal::HalfToFloat(a[0] >> 16);
  const float a2 = internal::HalfToFloat(a[1]), a3 = internal::HalfToFloat(a[1] >> 16);
  const float b0 = internal::HalfToFloat(b), b1 = internal::HalfToFloat(b >> 16);
  for (int r = 0; r < 4; ++r) w.c[lane][r] = d[r];
  // Lane (g, t) holds A[g][2t..2t+1] and A[g+8][2t..2t+1]; the TF32 slots
  // want A[g][t'] with t' in 0..3 and t'+4 from lane (g, t'). Move each
  // value to the lane and slot the TF32 layout puts it in.
  const unsigned g = lane / 4, t = lane % 4;
  auto put_a = [&](unsigned row, unsigned col, float v) {
    const unsigned owner = (row % 8) * 4 + col % 4;
    w.a[owner][(row >= 8 ? 1 : 0) + (col >= 4 ? 2 : 0)] = v;
  };
  put_a(g, 2 * t, a0), put_a(g, 2 * t + 1, a1), put_a(g + 8, 2 * t, a2),
      put_a(g + 8, 2 * t + 1, a3);
  auto put_b = [&](unsigned row, unsigned col, float v) {
    w.b[col * 4 + row % 4][row >= 4 ? 1 : 0] = v;
  };
  put_b(2 * t, g, b0), put_b(2 * t + 1, g, b1);
  internal::Exchange(w, lane, d);
}

}  // namespace convd::cuda::emulation

#endif  // CONVD_KERNELS_CUDA_EMULATION_WARP_EMULATION_H_
