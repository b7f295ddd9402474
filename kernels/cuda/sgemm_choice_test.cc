// The SGEMM's kernels as a benchmark may choose them (GemmKernelChoice):
// each tile shape, the 4-stage FP32 kernel fed by cp.async and both
// tensor-core kernels, against a float64 GEMM; the rule's own picks;
// choices that name no kernel. Skips cleanly without a GPU (the emulated
// twin runs them anywhere).
#include <utility>

#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/gemm_math_rounding.h"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/cuda/sgemm_test_support.h"

namespace convd::cuda {
namespace {

using sgemm_testing::Case;
using sgemm_testing::ExpectMatchesFloat64;

class CudaSgemmChoiceTest : public ::testing::TestWithParam<GemmMath> {};

INSTANTIATE_TEST_SUITE_P(Maths, CudaSgemmChoiceTest, sgemm_testing::kEveryMath,
                         sgemm_testing::MathName);

TEST_P(CudaSgemmChoiceTest, ChosenTilesMatchFloat64Too) {
  // Each of the four tile shapes (benchmarks compare them) on products
  // whose own rule picks another: 128x128 (ragged on both sides, scalar
  // loads of A and B), 64x64, 64x128 and 128x64, split and in a batch.
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  const Case cases[] = {{200, 300, 40, 1, 3}, {60, 70, 33}, {40, 300, 20, 0, 0, 2}};
  for (const Case& c : cases) {
    for (int rows : {64, 128}) {
      for (int columns : {64, 128}) {
        for (int epilogue_case : {0, 2}) {
          ExpectMatchesFloat64(c, GetParam(), epilogue_case, 1, {rows, columns});
        }
      }
    }
  }
  ExpectMatchesFloat64({130, 150, 300}, GetParam(), 2, 3, {64, 64});
}

TEST(CudaSgemmChoiceTest, CopyStagedKernelMatchesFloat64) {
  // The kernel whose K steps reach shared memory by cp.async, 4 stages: K
  // of 1 to 3 steps (fewer than its stages), ragged K, both sides ragged,
  // scalar copies of B (unaligned rows) and of A's dead rows, every tile
  // shape, a batch with shared A, split K. The emulation
  // lands the copies when issued in even blocks and only when waited for in
  // odd ones, so a misplaced wait or barrier gives wrong results.
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  const Case cases[] = {
      {9, 13, 5},
      {70, 90, 21, 3, 1},  // a ragged last step beside NaN padding on both
                           // sides
      {130, 150, 33, 0, 3},
      {200, 300, 40, 1, 3},
      {64, 64, 64},
      {65, 129, 17, 0, 0, 3, true},
      {192, 130, 70, 0, 2},
      {128, 128, 8},
      {40, 300, 250},
  };
  for (const Case& c : cases) {
    for (int rows : {0, 64, 128}) {
      for (int columns : {0, 64, 128}) {
        for (int epilogue_case = 0; epilogue_case < 3; ++epilogue_case) {
          ExpectMatchesFloat64(c, GemmMath::kFp32, epilogue_case, 1, {rows, columns, 4});
        }
      }
    }
  }
  ExpectMatchesFloat64({130, 150, 300}, GemmMath::kFp32, 2, 3, {0, 0, 4});
}

class CudaSgemmTensorKernelTest : public ::testing::TestWithParam<GemmMath> {};

INSTANTIATE_TEST_SUITE_P(TensorMaths, CudaSgemmTensorKernelTest,
                         ::testing::Values(GemmMath::kTf32, GemmMath::kFp16),
                         sgemm_testing::MathName);

TEST_P(CudaSgemmTensorKernelTest, BothTensorCoreKernelsMatchFloat64) {
  // The tensor-core kernel (stages 3, K steps of 32 copied by cp.async two
  // ahead; the rule's) and the register-staged one a benchmark compares it
  // with (stages 2): K under one step, of 2 to 5 steps, ragged (a 16-byte
  // copy cut short where A's rows are aligned but K is not a multiple of
  // 4), 4-byte copies of A and of B (unaligned rows), both sides ragged,
  // every tile shape, a batch with shared A, split K. The emulation lands
  // copies when issued in even blocks and only when waited for in odd
  // ones, and the shared memory starts each block as NaN, so a misplaced
  // wait or barrier, or a stage refilled while it is read, gives wrong
  // results.
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  const Case cases[] = {
      {9, 13, 5},           {70, 90, 21, 3, 1},
      {130, 150, 33, 0, 3}, {200, 300, 100, 1, 3},
      {64, 64, 64},         {65, 129, 97, 0, 0, 3, true},
      {192, 130, 70, 0, 2}, {128, 128, 160},
      {96, 100, 30, 2},     {40, 300, 250},
  };
  for (int stages : {3, 2}) {
    for (const Case& c : cases) {
      for (int rows : {0, 64, 128}) {
        for (int columns : {0, 64, 128}) {
          for (int epilogue_case = 0; epilogue_case < 3; ++epilogue_case) {
            ExpectMatchesFloat64(c, GetParam(), epilogue_case, 1, {rows, columns, stages});
          }
        }
      }
    }
    ExpectMatchesFloat64({130, 150, 300}, GetParam(), 2, 3, {0, 0, stages});
  }
}

TEST(CudaSgemmChoiceTest, TilesAre64WhereThatCutsThePaddingByAFifth) {
  // In batches of 264 products, which fill the device whatever the tiles.
  auto chosen = [](int m, int n) {
    const GemmKernelChoice kernel =
        KernelChosenFor(GemmShape{m, n, 8, 8, n, n, 8 * m, 8 * n, m * n, 264}, 132);
    EXPECT_EQ(kernel.stages, 2);  // staged through registers
    return std::pair(kernel.rows, kernel.columns);
  };
  EXPECT_EQ(chosen(64, 3025), std::pair(64, 128));
  EXPECT_EQ(chosen(192, 169), std::pair(64, 64));
  EXPECT_EQ(chosen(384, 16), std::pair(128, 64));
  EXPECT_EQ(chosen(4096, 4096), std::pair(128, 128));
  EXPECT_EQ(chosen(320, 193), std::pair(128, 128));  // 64-long would pad as much
}

TEST(CudaSgemmChoiceTest, TilesHalveWhileTwiceTheGridFitsAWave) {
  // 264 blocks on 132 SMs; the longer dimension's side first; K of 8
  // (too short to split), or `k`.
  auto chosen = [](int m, int n, int batch, int multiprocessors, int k = 8) {
    const GemmKernelChoice kernel = KernelChosenFor(
        GemmShape{m, n, k, k, n, n, int64_t{k} * m, int64_t{k} * n, int64_t{m} * n, batch},
        multiprocessors);
    return std::pair(kernel.rows, kernel.columns);
  };
  EXPECT_EQ(chosen(256, 3136, 1, 132), std::pair(64, 64));     // ResNet-50 64->256 1x1: 50 -> 196
  EXPECT_EQ(chosen(1024, 196, 1, 132), std::pair(64, 64));     // 16 -> 64
  EXPECT_EQ(chosen(1024, 2048, 1, 132), std::pair(128, 64));   // 128 -> 256: one halving
  EXPECT_EQ(chosen(2048, 2048, 1, 132), std::pair(128, 128));  // 256: 512 would take two waves
  EXPECT_EQ(chosen(384, 16, 36, 132), std::pair(64, 64));      // Winograd F(4x4), 13x13: 108 -> 216
  EXPECT_EQ(chosen(384, 512, 36, 132), std::pair(128, 128));   // the same at batch 32: 432
  EXPECT_EQ(chosen(4096, 4096, 1, 132), std::pair(128, 128));
  EXPECT_EQ(chosen(256, 256, 1, 1), std::pair(128, 128));  // 4 blocks fill 1 SM twice over
  // Where K splits, the columns keep 128: a fully connected layer's weights
  // stream through them. Rows still halve.
  EXPECT_EQ(chosen(128, 4096, 1, 132, 9216), std::pair(64, 128));  // AlexNet fc6, batch 128
  EXPECT_EQ(chosen(1024, 196, 1, 132, 256), std::pair(64, 128));   // ResNet-50 256->1024 1x1
  EXPECT_EQ(chosen(1024, 196, 2, 132, 256), std::pair(64, 64));    // two products: no split
  // A side a benchmark chose stays; the other halves alone.
  EXPECT_EQ(KernelChosenFor(GemmShape{256, 3136, 8, 8, 3136, 3136}, 132, {128, 0, 0}).columns, 64);
  EXPECT_EQ(KernelChosenFor(GemmShape{256, 3136, 8, 8, 3136, 3136}, 132, {128, 0, 0}).rows, 128);
}

TEST(CudaSgemmChoiceTest, RefusesChoicesThatNameNoKernel) {
  GemmShape shape{4, 4, 4, 4, 4, 4};
  float* p = reinterpret_cast<float*>(16);
  shape.m = 16;  // tiles of 64 or 128, stages 2 or 4 (FP32) only
  const GemmKernelChoice wrong[] = {{96, 0, 0}, {0, 32, 0}, {-1, 64, 0}, {0, 0, 3}, {0, 0, 1}};
  for (const GemmKernelChoice& kernel : wrong) {
    EXPECT_EQ(LaunchSgemm(shape, p, p, p, {}, nullptr, GemmMath::kFp32,
                          GemmWorkspace{nullptr, 0, 1, kernel}),
              cudaErrorInvalidValue)
        << kernel.rows << "x" << kernel.columns << "/" << kernel.stages;
  }
  // The cp.async FP32 kernel (4) is FP32's only, the tensor-core one (3)
  // the tensor cores' only.
  for (GemmMath math : {GemmMath::kTf32, GemmMath::kFp16}) {
    EXPECT_EQ(
        LaunchSgemm(shape, p, p, p, {}, nullptr, math, GemmWorkspace{nullptr, 0, 1, {0, 0, 4}}),
        cudaErrorInvalidValue);
    EXPECT_EQ(
        LaunchSgemm(shape, p, p, p, {}, nullptr, math, GemmWorkspace{nullptr, 0, 1, {0, 0, 5}}),
        cudaErrorInvalidValue);
  }
  // Chosen kernels are the ones launched: 64-row tiles down 4M rows are
  // 65,536, more than a grid holds (128-row ones, the rule's, would launch).
  shape.m = 64 * 65536;
  for (int stages : {2, 4}) {
    EXPECT_EQ(LaunchSgemm(shape, p, p, p, {}, nullptr, GemmMath::kFp32,
                          GemmWorkspace{nullptr, 0, 1, {64, 0, stages}}),
              cudaErrorInvalidValue)
        << stages;
  }
  EXPECT_EQ(LaunchSgemm(shape, p, p, p, {}, nullptr, GemmMath::kTf32,
                        GemmWorkspace{nullptr, 0, 1, {64, 0, 3}}),
            cudaErrorInvalidValue);
}

}  // namespace
}  // namespace convd::cuda
