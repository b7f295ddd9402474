// IEEE 754 binary16 ("half") storage for weights: a fully connected
// layer at a small batch is bound by reading its weights, and halves are
// half the bytes (algorithm_policy.cpu_weights). Floats are rounded to
// halves once, at load; kernels widen them back as they read them, with
// the CPU's conversion instructions (F16C, AVX-512) where it has them,
// which give exactly HalfToFloat's values (half_test checks).
//
// Thread safety: the functions keep no state.
#ifndef CONVD_KERNELS_CPU_HALF_H_
#define CONVD_KERNELS_CPU_HALF_H_

#include <cstdint>

#include "kernels/cpu/cpu_features.h"

namespace convd::cpu {

// The largest finite half; a float beyond it has no half near it.
inline constexpr float kHalfMax = 65504.0f;

// h's value (exact: every half is a float; a NaN stays a NaN).
float HalfToFloat(uint16_t h);

// f rounded to the nearest half, ties to the even one (the rounding of
// F16C's default mode): 11 significant bits, a relative error of at most
// 2^-11 for |f| in [2^-14, kHalfMax]; below 2^-14 an absolute error of at
// most 2^-25. |f| >= 65520 becomes infinity and a NaN a NaN: callers
// check the range first.
uint16_t FloatToHalf(float f);

// to[i] = HalfToFloat(from[i]) for i < count, in the widest build the CPU
// runs.
void WidenHalves(const uint16_t* from, int64_t count, float* to);
// One build of WidenHalves, for tests; the CPU must support `build`.
void WidenHalvesForTesting(CpuBuild build, const uint16_t* from, int64_t count, float* to);

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_HALF_H_
