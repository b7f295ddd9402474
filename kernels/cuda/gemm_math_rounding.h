// Test helpers: operands rounded on the host as a GemmMath's tensor cores
// round them, so that a float64 reference on the rounded operands checks
// the tensor-core paths to the FP32 bound (products of such operands are
// exact in FP32). Independent of the kernels' own rounding code.
#ifndef CONVD_KERNELS_CUDA_GEMM_MATH_ROUNDING_H_
#define CONVD_KERNELS_CUDA_GEMM_MATH_ROUNDING_H_

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cuda/sgemm_launch.h"

namespace convd::testing {

// x rounded to TF32 as cvt.rna does: 10 mantissa bits, to nearest, ties
// away from zero (finite x).
inline float RoundToTf32(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  bits = (bits + 0x1000u) & 0xFFFFE000u;
  std::memcpy(&x, &bits, sizeof(bits));
  return x;
}

// x rounded to FP16 as cvt.rn.f16.f32 does (to nearest even, subnormals
// kept), by the host compiler's own _Float16.
inline float RoundToFp16(float x) { return static_cast<float>(static_cast<_Float16>(x)); }

// `values` as `math`'s tensor cores see them (FP32: unchanged).
inline std::vector<float> RoundedFor(cuda::GemmMath math, std::vector<float> values) {
  if (math == cuda::GemmMath::kTf32) {
    for (float& v : values) v = RoundToTf32(v);
  } else if (math == cuda::GemmMath::kFp16) {
    for (float& v : values) v = RoundToFp16(v);
  }
  return values;
}

}  // namespace convd::testing

#endif  // CONVD_KERNELS_CUDA_GEMM_MATH_ROUNDING_H_
