// Every build of Gemv the CPU runs against a float64 product, over shapes
// that leave rows past the last group of four, columns past the last
// vector (and rows shorter than one), and a leading dimension past n.
#include "kernels/cpu/gemv.h"

#include <cmath>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_build_testing.h"
#include "kernels/testing/numeric.h"

namespace convd::cpu {
namespace {

using ::convd::testing::MaxErrorRelativeTo;
using ::convd::testing::RandomVector;

class GemvBuildTest : public CpuBuildTest<> {};

INSTANTIATE_TEST_SUITE_P(Builds, GemvBuildTest, ::testing::ValuesIn(kAllCpuBuilds),
                         CpuBuildTestName);

TEST_P(GemvBuildTest, MatchesFloat64Product) {
  // m, n, lda
  for (auto [m, n, lda] : {std::tuple{1, 1, 1},
                           {3, 5, 7},
                           {4, 16, 16},
                           {5, 33, 40},
                           {7, 17, 17},
                           {9, 64, 70},
                           {13, 100, 101},
                           {120, 400, 400},
                           {10, 84, 84},
                           {6, 47, 47}}) {
    // Exactly the floats A spans, so that ASan catches a read past it.
    const std::vector<float> a = RandomVector(int64_t{m - 1} * lda + n);
    const std::vector<float> x = RandomVector(n);
    std::vector<double> expected(m), magnitude(m);
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j) {
        expected[i] += double{a[int64_t{i} * lda + j]} * x[j];
        magnitude[i] += std::abs(double{a[int64_t{i} * lda + j]} * x[j]);
      }
    }
    // One float past y, which must stay as it was.
    std::vector<float> y(m + 1, -7.0f);
    GemvForTesting(GetParam(), m, n, a.data(), lda, x.data(), y.data());
    EXPECT_LE(MaxErrorRelativeTo(y.data(), expected, magnitude), 1e-6)
        << "m=" << m << " n=" << n << " lda=" << lda;
    EXPECT_EQ(y[m], -7.0f) << "m=" << m << " n=" << n << " lda=" << lda;
  }
}

}  // namespace
}  // namespace convd::cpu
