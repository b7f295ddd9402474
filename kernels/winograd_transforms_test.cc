// Each Winograd table satisfies the bilinear identity behind
// Y = A^T [(G g) .* (B^T d)]: in one dimension, output i of filter g over
// input d is sum_k g[k] d[i + k], so for every i, k and l
//   sum_j A^T[i][j] G[j][k] B^T[j][l] = (l == i + k).
// A wrong entry in any of the three matrices breaks it for some (i, k, l).
// The tables are dyadic fractions, sixths, ninths and 45ths; the sums are exact to well
// under 1e-12.
#include "kernels/winograd_transforms.h"

#include <cmath>

#include "gtest/gtest.h"

namespace convd::winograd {
namespace {

template <int M, int R>
void ExpectIdentityHolds() {
  using T = Transforms<M, R>;
  static_assert(T::kAlpha == M + R - 1);
  for (int i = 0; i < M; ++i) {
    for (int k = 0; k < R; ++k) {
      for (int l = 0; l < T::kAlpha; ++l) {
        double sum = 0;
        for (int j = 0; j < T::kAlpha; ++j) sum += T::kAT[i][j] * T::kG[j][k] * T::kBT[j][l];
        EXPECT_NEAR(sum, l == i + k ? 1.0 : 0.0, 1e-12)
            << "F(" << M << "," << R << ") i=" << i << " k=" << k << " l=" << l;
      }
    }
  }
}

TEST(WinogradTransforms, F2x3SatisfiesTheIdentity) { ExpectIdentityHolds<2, 3>(); }
TEST(WinogradTransforms, F4x3SatisfiesTheIdentity) { ExpectIdentityHolds<4, 3>(); }
TEST(WinogradTransforms, F2x5SatisfiesTheIdentity) { ExpectIdentityHolds<2, 5>(); }
TEST(WinogradTransforms, F4x5SatisfiesTheIdentity) { ExpectIdentityHolds<4, 5>(); }

}  // namespace
}  // namespace convd::winograd
