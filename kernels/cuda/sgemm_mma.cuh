// The tensor-core instructions the SGEMM's kernels issue (mma.sync
// m16n8k8 on TF32 and on FP16 operands, m16n8k16 on FP16, FP32
// accumulation; ldmatrix for their fragments), and the
// rounding of their operands; the emulated builds run the PTX ISA's
// description of each (emulation/warp_emulation.h). Internal to
// kernels/cuda.
#ifndef CONVD_KERNELS_CUDA_SGEMM_MMA_CUH_
#define CONVD_KERNELS_CUDA_SGEMM_MMA_CUH_

#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

namespace convd::cuda::sgemm {

// x rounded to TF32 (10 mantissa bits, to nearest, ties away), as bits.
__device__ __forceinline__ float RoundToTf32(float x) {
#ifdef CONVD_CUDA_EMULATION
  return emulation::RoundToTf32(x);
#else
  uint32_t bits;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(bits) : "f"(x));
  return __uint_as_float(bits);
#endif
}

// d += a x b on one 16x8x8 tile; fragments as the PTX ISA lays them out
// (g = lane / 4, t = lane % 4): a {A[g][t], A[g+8][t], A[g][t+4],
// A[g+8][t+4]}, b {B[t][g], B[t+4][g]}, d {D[g][2t], D[g][2t+1],
// D[g+8][2t], D[g+8][2t+1]}.
__device__ __forceinline__ void MmaTf32(float (&d)[4], const float (&a)[4], const float (&b)[2]) {
#ifdef CONVD_CUDA_EMULATION
  emulation::MmaTf32(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(__float_as_uint(a[0])), "r"(__float_as_uint(a[1])), "r"(__float_as_uint(a[2])),
        "r"(__float_as_uint(a[3])), "r"(__float_as_uint(b[0])), "r"(__float_as_uint(b[1])));
#endif
}

// Four 8x4 blocks of 32-bit elements from shared memory in one instruction
// (ldmatrix .x4, whose 8x8 16-bit matrices are 8x4 32-bit ones): lanes
// 8i..8i+7 give the addresses of block i's rows 0..7 (16 bytes each,
// 16-byte aligned), and lane L receives element [L / 4][L % 4] of block i
// in r[i].
__device__ __forceinline__ void LoadMatrixX4(uint32_t (&r)[4], const float* row) {
#ifdef CONVD_CUDA_EMULATION
  emulation::LoadMatrixX4(r, row);
#else
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
#endif
}

// x rounded to FP16 (to nearest even; beyond +-65504 it is infinite).
__device__ __forceinline__ float RoundToFp16(float x) { return __half2float(__float2half_rn(x)); }

// Two FP16-representable floats as one f16x2 register, `low` in bits 0-15.
__device__ __forceinline__ uint32_t PackHalves(float low, float high) {
  const __half2 pair = __floats2half2_rn(low, high);
  uint32_t bits;
  memcpy(&bits, &pair, sizeof(bits));  // not a pointer cast: strict aliasing
  return bits;
}

// d += a x b on one 16x8x8 tile of FP16 operands, FP32 accumulation
// (g = lane / 4, t = lane % 4): a {A[g][2t..2t+1], A[g+8][2t..2t+1]},
// b {B[2t..2t+1][g]}, d as MmaTf32's.
__device__ __forceinline__ void MmaFp16(float (&d)[4], const uint32_t (&a)[2], uint32_t b) {
#ifdef CONVD_CUDA_EMULATION
  emulation::MmaFp16(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 "
      "{%0, %1, %2, %3}, {%4, %5}, {%6}, {%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(b));
#endif
}

// d += a x b on one 16x8x16 tile of FP16 operands, FP32 accumulation, the
// instruction's native shape (twice the work of m16n8k8 per issue; g, t as
// above): a {A[g][2t..2t+1], A[g+8][2t..2t+1], A[g][2t+8..2t+9],
// A[g+8][2t+8..2t+9]}, b {B[2t..2t+1][g], B[2t+8..2t+9][g]}, d as
// MmaTf32's.
__device__ __forceinline__ void MmaFp16K16(float (&d)[4], const uint32_t (&a)[4],
                                           const uint32_t (&b)[2]) {
#ifdef CONVD_CUDA_EMULATION
  emulation::MmaFp16K16(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

}  // namespace convd::cuda::sgemm

#endif  // CONVD_KERNELS_CUDA_SGEMM_MMA_CUH_
