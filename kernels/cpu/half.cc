// Bit arithmetic after Fabian Giesen's float_to_half_fast3_rtne: the
// exponent is rebiased by an integer add whose carry out of the dropped
// bits rounds to nearest, ties to even; halves below 2^-14 are rounded by
// a float add of 0.5, whose sum has a unit in the last place of 2^-24,
// the half's smallest step.
#include "kernels/cpu/half.h"

#include <immintrin.h>

#include <bit>

namespace convd::cpu {

float HalfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {  // zero or subnormal: mantissa units of 2^-24
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(mantissa * 0x1p-24f));
  }
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13));
}

uint16_t FloatToHalf(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  bits &= 0x7fffffffu;
  constexpr uint32_t kInfinityBits = 0xffu << 23;
  constexpr uint32_t kTwoToThe16 = (127u + 16) << 23;          // 65536: no finite half near
  constexpr uint32_t kSmallestNormalHalf = (127u - 14) << 23;  // 2^-14
  uint16_t magnitude;
  if (bits >= kTwoToThe16) {
    magnitude = bits > kInfinityBits ? 0x7e00 : 0x7c00;  // NaN, infinity
  } else if (bits < kSmallestNormalHalf) {
    const float sum = std::bit_cast<float>(bits) + 0.5f;
    magnitude = static_cast<uint16_t>(std::bit_cast<uint32_t>(sum) - std::bit_cast<uint32_t>(0.5f));
  } else {
    const uint32_t odd = (bits >> 13) & 1;
    // Rebias 127 -> 15, then add just under half the dropped unit plus the
    // kept bit: a tie carries only into an odd mantissa. 65520 and up
    // carry into the infinity's exponent.
    bits += (uint32_t{15} - 127) * (1u << 23) + 0xfff + odd;
    magnitude = static_cast<uint16_t>(bits >> 13);
  }
  return sign | magnitude;
}

namespace {

// (_mm512_maskz_cvtph_ps with every lane, not _mm512_cvtph_ps: GCC 12
// warns that the latter's undefined pass-through may be used.)
[[gnu::target("avx512f,avx2,fma,f16c")]] void WidenHalvesAvx512(const uint16_t* from, int64_t count,
                                                                float* to) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    _mm512_storeu_ps(to + i,
                     _mm512_maskz_cvtph_ps(
                         0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from + i))));
  }
  for (; i < count; ++i) to[i] = HalfToFloat(from[i]);
}

[[gnu::target("avx2,fma,f16c")]] void WidenHalvesAvx2(const uint16_t* from, int64_t count,
                                                      float* to) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    _mm256_storeu_ps(to + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(from + i))));
  }
  for (; i < count; ++i) to[i] = HalfToFloat(from[i]);
}

void WidenHalvesBaseline(const uint16_t* from, int64_t count, float* to) {
  for (int64_t i = 0; i < count; ++i) to[i] = HalfToFloat(from[i]);
}

}  // namespace

void WidenHalvesForTesting(CpuBuild build, const uint16_t* from, int64_t count, float* to) {
  CallBuild(build, WidenHalvesBaseline, WidenHalvesAvx2, WidenHalvesAvx512, from, count, to);
}

void WidenHalves(const uint16_t* from, int64_t count, float* to) {
  static const CpuBuild build = WidestCpuBuild();
  WidenHalvesForTesting(build, from, count, to);
}

}  // namespace convd::cpu
