// Every build of Gemv and GemvHalf the CPU runs against a float64
// product, at batches 1-8, over shapes that leave rows past the last
// group of four (or pair), columns past the last vector (and rows shorter
// than one), and leading dimensions past n and m.
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

// y_b = a x_b for every shape and batch, by `gemv` (a's values as floats,
// x's rows ldx = n + 3 apart, y's ldy = m + 2), against a float64
// product; a and x hold exactly the values they span, so that ASan
// catches a read past them, and y's two floats past each row must stay
// as they were.
template <typename Gemv>
void ExpectMatchesFloat64Product(Gemv gemv) {
  for (int batch : {1, 2, 3, 5, 8}) {
    for (auto [m, n, lda] : kShapes) {
      const int64_t ldx = n + 3, ldy = m + 2;
      const std::vector<float> a = RandomVector(int64_t{m - 1} * lda + n);
      const std::vector<float> x = RandomVector((batch - 1) * ldx + n);
      std::vector<float> y(batch * ldy, -7.0f);
      const std::vector<float> a_used = gemv(m, n, a, lda, batch, x, ldx, y.data(), ldy);
      for (int b = 0; b < batch; ++b) {
        std::vector<double> expected(m), magnitude(m);
        for (int i = 0; i < m; ++i) {
          for (int j = 0; j < n; ++j) {
            const double term = double{a_used[int64_t{i} * lda + j]} * x[b * ldx + j];
            expected[i] += term;
            magnitude[i] += std::abs(term);
          }
        }
        const float* y_b = y.data() + b * ldy;
        EXPECT_LE(MaxErrorRelativeTo(y_b, expected, magnitude), 1e-6)
            << "m=" << m << " n=" << n << " lda=" << lda << " batch=" << batch << " b=" << b;
        EXPECT_EQ(y_b[m], -7.0f) << "m=" << m << " n=" << n << " batch=" << batch << " b=" << b;
        EXPECT_EQ(y_b[m + 1], -7.0f) << "m=" << m << " n=" << n << " batch=" << batch;
      }
    }
  }
}

TEST_P(GemvBuildTest, MatchesFloat64Product) {
  ExpectMatchesFloat64Product([&](int m, int n, const std::vector<float>& a, int lda, int batch,
                                  const std::vector<float>& x, int64_t ldx, float* y, int64_t ldy) {
    GemvForTesting(GetParam(), m, n, a.data(), lda, batch, x.data(), ldx, y, ldy);
    return a;
  });
}

// The product of the halves nearest A's values, to float accuracy: the
// halves are widened exactly (their own rounding is half_test's).
TEST_P(GemvBuildTest, HalfWeightsMatchFloat64ProductOfTheHalves) {
  ExpectMatchesFloat64Product([&](int m, int n, const std::vector<float>& a, int lda, int batch,
                                  const std::vector<float>& x, int64_t ldx, float* y, int64_t ldy) {
    std::vector<uint16_t> halves(a.size());
    std::vector<float> widened(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      halves[i] = FloatToHalf(a[i]);
      widened[i] = HalfToFloat(halves[i]);
    }
    GemvHalfForTesting(GetParam(), m, n, halves.data(), lda, batch, x.data(), ldx, y, ldy);
    return widened;
  });
}

}  // namespace
}  // namespace convd::cpu
