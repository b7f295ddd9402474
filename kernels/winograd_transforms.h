// Winograd minimal filtering F(m x m, r x r) transform matrices (Lavin &
// Gray 2016), shared by the CPU and CUDA backends. A tile of
// alpha = m + r - 1 input rows/columns yields m x m outputs:
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A
// F(2,3) uses interpolation points 0, 1, -1 (and infinity); F(4,3) and
// F(2,5) both use 0, 1, -1, 2, -2 (and infinity), so they share alpha = 6
// and B^T; F(4,5) adds 1/2 and -1/2 (alpha = 8, the B^T of F(6,3)). The matrices follow the
// Toom-Cook construction: for a finite point a_j, A^T[i][j] = a_j^i and G[j][k] = a_j^k / prod_{l
// != j} (a_j - a_l); B^T then solves the bilinear identity that winograd_transforms_test checks for
// every table: sum_j A^T[i][j] G[j][k] B^T[j][l] = (l == i + k).
#ifndef CONVD_KERNELS_WINOGRAD_TRANSFORMS_H_
#define CONVD_KERNELS_WINOGRAD_TRANSFORMS_H_

namespace convd::winograd {

template <int M, int R = 3>
struct Transforms;

template <>
struct Transforms<2, 3> {
  static constexpr int kAlpha = 4;
  static constexpr double kBT[4][4] = {
      {1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr double kG[4][3] = {
      {1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static constexpr double kAT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};

template <>
struct Transforms<4, 3> {
  static constexpr int kAlpha = 6;
  static constexpr double kBT[6][6] = {
      {4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
      {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr double kG[6][3] = {
      {1.0 / 4, 0, 0},
      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
      {1.0 / 24, 1.0 / 12, 1.0 / 6},
      {1.0 / 24, -1.0 / 12, 1.0 / 6},
      {0, 0, 1}};
  static constexpr double kAT[4][6] = {{1, 1, 1, 1, 1, 0},
                                       {0, 1, -1, 2, -2, 0},
                                       {0, 1, 1, 4, 4, 0},
                                       {0, 1, -1, 8, -8, 1}};
};

// 5x5 filters (AlexNet's conv2): 36 products per 2x2 outputs where the
// direct convolution takes 100.
template <>
struct Transforms<2, 5> {
  static constexpr int kAlpha = 6;
  static constexpr const auto& kBT = Transforms<4, 3>::kBT;
  static constexpr double kG[6][5] = {{1.0 / 4, 0, 0, 0, 0},
                                      {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
                                      {-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
                                      {1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3},
                                      {1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3},
                                      {0, 0, 0, 0, 1}};
  static constexpr double kAT[2][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 1}};
};

// 5x5 filters on 4x4 output tiles: 64 products per 16 outputs (4 an
// output, against F(2x2,5x5)'s 9 and direct's 25), and V and M a quarter
// the size per output, at the cost of larger transform constants (up to 8
// and 21/4): its float32 error is up to 1.6x F(2x2,5x5)'s, as large as
// F(4x4,3x3)'s (conv_algorithms_test).
template <>
struct Transforms<4, 5> {
  static constexpr int kAlpha = 8;
  static constexpr double kBT[8][8] = {{-1, 0, 21.0 / 4, 0, -21.0 / 4, 0, 1, 0},
                                       {0, 1, 1, -17.0 / 4, -17.0 / 4, 1, 1, 0},
                                       {0, -1, 1, 17.0 / 4, -17.0 / 4, -1, 1, 0},
                                       {0, 1.0 / 2, 1.0 / 4, -5.0 / 2, -5.0 / 4, 2, 1, 0},
                                       {0, -1.0 / 2, 1.0 / 4, 5.0 / 2, -5.0 / 4, -2, 1, 0},
                                       {0, 2, 4, -5.0 / 2, -5, 1.0 / 2, 1, 0},
                                       {0, -2, 4, 5.0 / 2, -5, -1.0 / 2, 1, 0},
                                       {0, -1, 0, 21.0 / 4, 0, -21.0 / 4, 0, 1}};
  static constexpr double kG[8][5] = {{-1, 0, 0, 0, 0},
                                      {-2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9},
                                      {-2.0 / 9, 2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9},
                                      {1.0 / 90, 1.0 / 45, 2.0 / 45, 4.0 / 45, 8.0 / 45},
                                      {1.0 / 90, -1.0 / 45, 2.0 / 45, -4.0 / 45, 8.0 / 45},
                                      {32.0 / 45, 16.0 / 45, 8.0 / 45, 4.0 / 45, 2.0 / 45},
                                      {32.0 / 45, -16.0 / 45, 8.0 / 45, -4.0 / 45, 2.0 / 45},
                                      {0, 0, 0, 0, 1}};
  static constexpr double kAT[4][8] = {{1, 1, 1, 1, 1, 1, 1, 0},
                                       {0, 1, -1, 2, -2, 1.0 / 2, -1.0 / 2, 0},
                                       {0, 1, 1, 4, 4, 1.0 / 4, 1.0 / 4, 0},
                                       {0, 1, -1, 8, -8, 1.0 / 8, -1.0 / 8, 1}};
};

}  // namespace convd::winograd

#endif  // CONVD_KERNELS_WINOGRAD_TRANSFORMS_H_
