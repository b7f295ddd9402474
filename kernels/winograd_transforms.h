// Winograd minimal filtering F(m x m, 3 x 3) transform matrices (Lavin &
// Gray 2016), shared by the CPU and CUDA backends. A tile of alpha = m + 2
// input rows/columns yields m x m outputs:
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A
// F(2,3) uses interpolation points 0, 1, -1; F(4,3) adds 2, -2 (and infinity).
#ifndef CONVD_KERNELS_WINOGRAD_TRANSFORMS_H_
#define CONVD_KERNELS_WINOGRAD_TRANSFORMS_H_

namespace convd::winograd {

template <int M>
struct Transforms;

template <>
struct Transforms<2> {
  static constexpr int kAlpha = 4;
  static constexpr double kBT[4][4] = {
      {1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr double kG[4][3] = {
      {1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static constexpr double kAT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};

template <>
struct Transforms<4> {
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

}  // namespace convd::winograd

#endif  // CONVD_KERNELS_WINOGRAD_TRANSFORMS_H_
