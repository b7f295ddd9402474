// Half-precision conversions: HalfToFloat against the CPU's own widening
// (F16C) for every half, FloatToHalf against its own rounding on values of
// every magnitude a half has, ties and the range's ends spelled out, and
// each build of WidenHalves against HalfToFloat.
#include "kernels/cpu/half.h"

#include <immintrin.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_build_testing.h"

namespace convd::cpu {
namespace {

bool HasF16c() { return __builtin_cpu_supports("f16c"); }

[[gnu::target("f16c")]] float HardwareWiden(uint16_t h) {
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

[[gnu::target("f16c")]] uint16_t HardwareRound(float f) {
  return static_cast<uint16_t>(
      _mm_cvtsi128_si32(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT)));
}

bool IsNanHalf(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

TEST(HalfTest, EveryHalfWidensExactlyAndRoundsBackToItself) {
  if (!HasF16c()) GTEST_SKIP() << "this CPU has no F16C to compare with";
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    const float widened = HalfToFloat(h);
    if (IsNanHalf(h)) {
      EXPECT_TRUE(std::isnan(widened)) << std::hex << bits;
      EXPECT_TRUE(IsNanHalf(FloatToHalf(widened))) << std::hex << bits;
      continue;
    }
    ASSERT_EQ(std::bit_cast<uint32_t>(widened), std::bit_cast<uint32_t>(HardwareWiden(h)))
        << std::hex << bits;
    ASSERT_EQ(FloatToHalf(widened), h) << std::hex << bits;
  }
}

TEST(HalfTest, RoundsAsTheHardwareDoesAtEveryMagnitude) {
  if (!HasF16c()) GTEST_SKIP() << "this CPU has no F16C to compare with";
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::uniform_int_distribution<uint32_t> mantissa(0, (1u << 23) - 1);
  // Exponents from below the smallest subnormal half to past the largest.
  for (int exponent = -30; exponent <= 17; ++exponent) {
    for (int i = 0; i < 20000; ++i) {
      uint32_t bits = std::bit_cast<uint32_t>(std::ldexp(1.0f, exponent)) | mantissa(rng);
      // Every fourth value a tie or next to one: the 13 dropped bits
      // 1000000000000 or one either side.
      if (i % 4 == 0) bits = (bits & ~0x1fffu) | (0x1000u + i % 3 - 1);
      const float f = std::bit_cast<float>(bits);
      ASSERT_EQ(FloatToHalf(f), HardwareRound(f)) << f;
      ASSERT_EQ(FloatToHalf(-f), HardwareRound(-f)) << -f;
    }
  }
}

TEST(HalfTest, TiesGoToEvenAndTheRangeEndsAsIeeeSays) {
  const float kUnitAtOne = 0x1p-10f;                          // a half's step between 1 and 2
  EXPECT_EQ(FloatToHalf(1.0f + kUnitAtOne / 2), 0x3c00);      // tie: to 1.0 (even)
  EXPECT_EQ(FloatToHalf(1.0f + 3 * kUnitAtOne / 2), 0x3c02);  // tie: up to even
  EXPECT_EQ(FloatToHalf(1.0f + kUnitAtOne / 2 + 0x1p-20f), 0x3c01);
  EXPECT_EQ(FloatToHalf(-2.5f), 0xc100);
  EXPECT_EQ(FloatToHalf(kHalfMax), 0x7bff);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-1e9f), 0xfc00);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_TRUE(IsNanHalf(FloatToHalf(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(FloatToHalf(0x1p-24f), 0x0001);    // the smallest subnormal
  EXPECT_EQ(FloatToHalf(0x1p-25f), 0x0000);    // half of it: tie to zero
  EXPECT_EQ(FloatToHalf(0x1.8p-24f), 0x0002);  // 1.5 units: tie to even 2
  EXPECT_EQ(FloatToHalf(0x1p-14f), 0x0400);    // the smallest normal
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(HalfToFloat(0x3555), 0x1.554p-2f);  // 1/3 to 11 bits
  EXPECT_EQ(HalfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(HalfToFloat(0x83ff), -0x1.ff8p-15f);  // the largest subnormal, negative
}

class WidenHalvesBuildTest : public CpuBuildTest<> {};

INSTANTIATE_TEST_SUITE_P(Builds, WidenHalvesBuildTest, ::testing::ValuesIn(kAllCpuBuilds),
                         CpuBuildTestName);

TEST_P(WidenHalvesBuildTest, MatchesHalfToFloat) {
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::uniform_int_distribution<int> bits(0, 0xffff);
  // Counts that leave a tail past the widest vector, and one shorter.
  for (int count : {1, 7, 15, 16, 17, 33, 1000}) {
    std::vector<uint16_t> halves(count);
    for (uint16_t& h : halves) {
      do h = static_cast<uint16_t>(bits(rng));
      while (IsNanHalf(h));
    }
    std::vector<float> widened(count + 1, -7.0f);  // one past, which must stay
    WidenHalvesForTesting(GetParam(), halves.data(), count, widened.data());
    for (int i = 0; i < count; ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(widened[i]),
                std::bit_cast<uint32_t>(HalfToFloat(halves[i])))
          << "count " << count << " index " << i;
    }
    EXPECT_EQ(widened[count], -7.0f) << "count " << count;
  }
}

}  // namespace
}  // namespace convd::cpu
