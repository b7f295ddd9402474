// Every build of Gemv and GemvHalf the CPU runs against a float64
// product, over shapes that leave rows past the last group of four,
// columns past the last vector (and rows shorter than one), and a leading
// dimension past n.
#include "kernels/cpu/gemv.h"

#include <cmath>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_build_testing.h"
#include "kernels/cpu/half.h"
#include "kernels/testing/numeric.h"

namespace convd::cpu {
namespace {

using ::convd::testing::MaxErrorRelativeTo;
using ::convd::testing::RandomVector;

class GemvBuildTest : public CpuBuildTest<> {};

INSTANTIATE_TEST_SUITE_P(Builds, GemvBuildTest, ::testing::ValuesIn(kAllCpuBuilds),
                         CpuBuildTestName);

// m, n, lda
constexpr std::tuple<int, int, int> kShapes[] = {
    {1, 1, 1},   {3, 5, 7},      {4, 16, 16},     {5, 33, 40},  {7, 17, 17},
    {9, 64, 70}, {13, 100, 101}, {120, 400, 400}, {10, 84, 84}, {6, 47, 47}};

// y = a x for every shape, by `gemv` (a's values as floats), against a
// float64 product; a holds exactly the values A spans, so that ASan
// catches a read past it.
template <typename Gemv>
void ExpectMatchesFloat64Product(Gemv gemv) {
  for (auto [m, n, lda] : kShapes) {
    const std::vector<float> a = RandomVector(int64_t{m - 1} * lda + n);
    const std::vector<float> x = RandomVector(n);
    // One float past y, which must stay as it was.
    std::vector<float> y(m + 1, -7.0f);
    const std::vector<float> a_used = gemv(m, n, a, lda, x, y.data());
    std::vector<double> expected(m), magnitude(m);
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j) {
        expected[i] += double{a_used[int64_t{i} * lda + j]} * x[j];
        magnitude[i] += std::abs(double{a_used[int64_t{i} * lda + j]} * x[j]);
      }
    }
    EXPECT_LE(MaxErrorRelativeTo(y.data(), expected, magnitude), 1e-6)
        << "m=" << m << " n=" << n << " lda=" << lda;
    EXPECT_EQ(y[m], -7.0f) << "m=" << m << " n=" << n << " lda=" << lda;
  }
}

TEST_P(GemvBuildTest, MatchesFloat64Product) {
  ExpectMatchesFloat64Product([&](int m, int n, const std::vector<float>& a, int lda,
                                  const std::vector<float>& x, float* y) {
    GemvForTesting(GetParam(), m, n, a.data(), lda, x.data(), y);
    return a;
  });
}

// The product of the halves nearest A's values, to float accuracy: the
// halves are widened exactly (their own rounding is half_test's).
TEST_P(GemvBuildTest, HalfWeightsMatchFloat64ProductOfTheHalves) {
  ExpectMatchesFloat64Product([&](int m, int n, const std::vector<float>& a, int lda,
                                  const std::vector<float>& x, float* y) {
    std::vector<uint16_t> halves(a.size());
    std::vector<float> widened(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      halves[i] = FloatToHalf(a[i]);
      widened[i] = HalfToFloat(halves[i]);
    }
    GemvHalfForTesting(GetParam(), m, n, halves.data(), lda, x.data(), y);
    return widened;
  });
}

}  // namespace
}  // namespace convd::cpu
