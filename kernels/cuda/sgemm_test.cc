// Our SGEMM against a float64 GEMM on fresh random matrices over odd shapes,
// unaligned leading dimensions (scalar loads), batches with shared A, and
// every epilogue, on the kernels its rule picks (sgemm_choice_test.cc: the
// ones a benchmark may choose). Skips cleanly without a GPU.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/gemm_math_rounding.h"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/cuda/sgemm_test_support.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/testing/numeric.h"

namespace convd::cuda {
namespace {

using sgemm_testing::Case;
using sgemm_testing::ExpectMatchesFloat64;
using sgemm_testing::LeftToGpus;
using sgemm_testing::ReferenceGemm;

// Every math over the same cases. The tensor-core maths are held to the FP32
// bound against a float64 reference computed on inputs rounded as they
// round them (TF32 as cvt.rna, FP16 as cvt.rn): products of such inputs are
// exact in FP32, so that checks the mma fragments exactly, and the rounding
// (left out, or done differently, it costs ~1e-4).
class CudaSgemmMathTest : public ::testing::TestWithParam<GemmMath> {};

INSTANTIATE_TEST_SUITE_P(Maths, CudaSgemmMathTest, sgemm_testing::kEveryMath,
                         sgemm_testing::MathName);

TEST_P(CudaSgemmMathTest, MatchesFloat64OverShapesLayoutsAndEpilogues) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  const Case cases[] = {
      {1, 1, 1},
      {7, 13, 5},
      {128, 128, 8},
      {129, 255, 17},
      {6, 576, 25},
      {16, 64, 150},
      {3, 1000, 4096, 0, 0, 2},
      {33, 70, 9, 1, 3},
      {64, 3025, 363, 0, 0, 3, true},
      {200, 5, 300, 2, 1, 2},
      {5, 7, 0},
      // Around the small-m kernel's bounds: 8 rows (2 blocks of columns, the
      // second ragged, scalar loads), 4, and 9 (tiles again).
      {8, 1030, 130, 0, 1},
      {4, 2050, 64},
      {9, 20, 33},
      // 64-long tile sides (sizes up to 64, 129..192) around 128-long ones:
      // 64x64, 128x64 with scalar loads of B, 64x128 in a batch.
      {192, 130, 70, 0, 2},
      {130, 150, 33, 0, 3},
      {65, 40, 24, 1, 0, 2},
      {40, 300, 20, 0, 0, 2},
  };
  for (const Case& c : cases) {
    if (LeftToGpus(c.m, c.n, c.k, c.batch)) continue;
    for (int epilogue_case = 0; epilogue_case < 3; ++epilogue_case) {
      ExpectMatchesFloat64(c, GetParam(), epilogue_case);
    }
  }
}

TEST_P(CudaSgemmMathTest, SplitKMatchesFloat64Too) {
  // K cut into parts of whole block steps (8), the last one shorter where
  // they do not divide it, or a single part where K is too short to cut.
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  const Case cases[] = {
      {1, 300, 1000}, {3, 260, 2048},    {129, 255, 17},
      {7, 13, 5},     {33, 70, 9, 1, 3}, {2, 130, 777, 3, 1},
  };
  for (const Case& c : cases) {
    for (int parts : {2, 3, 7, 32}) {
      for (int epilogue_case = 0; epilogue_case < 3; ++epilogue_case) {
        ExpectMatchesFloat64(c, GetParam(), epilogue_case, parts);
      }
    }
  }
}

TEST(CudaSgemmTest, SplitKOnlyWhereTheGridWouldLeaveTheDeviceIdle) {
  // Tiled products: 128 columns a tile (kept where K splits), 2 blocks
  // resident per SM.
  const GemmShape fc6_batch16{16, 4096, 9216, 9216, 4096, 4096};  // 32 blocks of 64 rows
  EXPECT_EQ(SplitKFor(fc6_batch16, 132), 8);                      // 256 of the 264 resident
  EXPECT_EQ(SplitKFor(fc6_batch16, 1), 1);
  EXPECT_EQ(SplitKWorkspaceFloats(fc6_batch16, 8), 8 * 16 * 4096);
  EXPECT_EQ(SplitKWorkspaceFloats(fc6_batch16, 1), 0);
  GemmShape square{4096, 4096, 4096, 4096, 4096, 4096};  // 1,024 blocks
  EXPECT_EQ(SplitKFor(square, 132), 1);
  GemmShape short_k{16, 4096, 200, 200, 4096, 4096};  // K for one part of 128
  EXPECT_EQ(SplitKFor(short_k, 132), 1);
  const GemmShape rows_192{192, 1024, 4096, 4096, 1024, 1024};  // 24 blocks of 64 rows
  EXPECT_EQ(SplitKFor(rows_192, 132), 11);  // 16 blocks of 128 rows would have taken 16
  GemmShape batched = fc6_batch16;  // several products: the batch fills the grid
  batched.batch = 36;
  EXPECT_EQ(SplitKFor(batched, 132), 1);
  // Up to 8 rows: 1,024 columns a block, 2 blocks resident per SM, parts of
  // at least 64 rows of K (8 per row of A).
  const GemmShape fc6{1, 4096, 9216, 9216, 4096, 4096};  // AlexNet, batch 1: 4 blocks
  EXPECT_EQ(SplitKFor(fc6, 132), 66);                    // 264 blocks
  EXPECT_EQ(SplitKWorkspaceFloats(fc6, 66), 64 * 4096);  // parts of 144 rows: 64 of them
  EXPECT_EQ(SplitKFor(fc6, 1), 1);
  const GemmShape lenet_fc1{1, 120, 400, 400, 120, 120};  // 1 block; K for 6 parts
  EXPECT_EQ(SplitKFor(lenet_fc1, 132), 6);
  const GemmShape eight_rows{8, 4096, 9216, 9216, 4096, 4096};
  EXPECT_EQ(SplitKFor(eight_rows, 132), 66);
  const GemmShape eight_rows_short{8, 120, 400, 400, 120, 120};  // parts of 64 rows at least
  EXPECT_EQ(SplitKFor(eight_rows_short, 132), 6);
  GemmShape small_batched = fc6;
  small_batched.batch = 2;
  EXPECT_EQ(SplitKFor(small_batched, 132), 1);
}

TEST(CudaSgemmTest, AForcedSplitNeedsItsWorkspace) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  const GemmShape shape{2, 64, 512, 512, 64, 64};
  auto a = DeviceBuffer::Allocate(2 * 512);
  auto b = DeviceBuffer::Allocate(512 * 64);
  auto c = DeviceBuffer::Allocate(2 * 64);
  auto small = DeviceBuffer::Allocate(SplitKWorkspaceFloats(shape, 4) - 1);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && small.ok());
  EXPECT_EQ(LaunchSgemm(shape, a->data(), b->data(), c->data(), {}, nullptr, GemmMath::kFp32,
                        GemmWorkspace{small->data(), small->floats(), 4}),
            cudaErrorInvalidValue);
  // Chosen rather than forced, too little workspace means one pass.
  EXPECT_EQ(LaunchSgemm(shape, a->data(), b->data(), c->data(), {}, nullptr, GemmMath::kFp32,
                        GemmWorkspace{small->data(), small->floats(), 0}),
            cudaSuccess);
}

TEST(CudaSgemmTest, Fp16RoundsToHalfPrecisionNotTf32) {
  // TF32 and FP16 keep the same 10 mantissa bits, so inputs in [-1, 1] do
  // not tell them apart; inputs around 1e-6 do: FP16 holds them as
  // subnormals (steps of 6e-8), TF32 to 3 decimal digits.
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  const Case c{48, 40, 72};
  std::vector<float> a = testing::RandomVector(c.m * c.k);
  std::vector<float> b = testing::RandomVector(c.k * c.n);
  for (float& v : a) v *= 1e-6f;
  auto device_a = DeviceBuffer::FromHost(a);
  auto device_b = DeviceBuffer::FromHost(b);
  auto device_c = DeviceBuffer::Allocate(c.m * c.n);
  ASSERT_TRUE(device_a.ok() && device_b.ok() && device_c.ok());
  const GemmShape shape{c.m, c.n, c.k, c.k, c.n, c.n, 0, 0, 0, 1};
  ASSERT_EQ(LaunchSgemm(shape, device_a->data(), device_b->data(), device_c->data(), {}, nullptr,
                        GemmMath::kFp16),
            cudaSuccess);
  auto output = device_c->ToHost();
  ASSERT_TRUE(output.ok()) << output.status();
  auto reference = [&](GemmMath rounding) {
    return ReferenceGemm(c, testing::RoundedFor(rounding, a), c.k, 0,
                         testing::RoundedFor(rounding, b), c.n, 0, {}, true, {},
                         ActivationFunction{});
  };
  EXPECT_LE(testing::MaxRelativeError(output->data(), reference(GemmMath::kFp16)), 1e-5);
  EXPECT_GT(testing::MaxRelativeError(output->data(), reference(GemmMath::kTf32)), 1e-3);
}

TEST(CudaSgemmTest, FullyConnectedLayersAreOneGemmOnPretransposedWeights) {
  // out[N, O] = act(in[N, I] x W[O, I]^T + bias[O]): the executor transposes
  // W once at load, then it is an SGEMM with a per-column bias.
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  struct Case {
    int n, in, out;
  };
  for (const Case& c : {Case{1, 9216, 4096}, Case{7, 400, 120}, Case{64, 84, 10}, Case{3, 5, 1}}) {
    if (LeftToGpus(c.n, c.out, c.in, 1)) continue;
    FullyConnectedParams params;
    params.n = c.n, params.in_features = c.in, params.out_features = c.out;
    const std::vector<float> input = testing::RandomVector(int64_t{c.n} * c.in);
    const std::vector<float> weights = testing::RandomVector(int64_t{c.out} * c.in);
    const std::vector<float> bias = testing::RandomVector(c.out);
    std::vector<float> transposed(weights.size());
    for (int o = 0; o < c.out; ++o) {
      for (int i = 0; i < c.in; ++i) {
        transposed[int64_t{i} * c.out + o] = weights[int64_t{o} * c.in + i];
      }
    }
    const ActivationFunction relu{Activation::kRelu};
    auto d_input = DeviceBuffer::FromHost(input);
    auto d_weights = DeviceBuffer::FromHost(transposed);
    auto d_bias = DeviceBuffer::FromHost(bias);
    auto d_output = DeviceBuffer::Allocate(int64_t{c.n} * c.out);
    ASSERT_TRUE(d_input.ok() && d_weights.ok() && d_bias.ok() && d_output.ok());
    GemmShape shape{c.n, c.out, c.in, c.in, c.out, c.out};
    GemmEpilogue epilogue;
    epilogue.bias = d_bias->data();
    epilogue.bias_per_row = false;
    epilogue.activation = ToDeviceActivation(relu);
    ASSERT_EQ(LaunchSgemm(shape, d_input->data(), d_weights->data(), d_output->data(), epilogue,
                          nullptr),
              cudaSuccess);
    auto output = d_output->ToHost();
    ASSERT_TRUE(output.ok());
    const std::vector<double> scale = reference::FullyConnected(
        params, testing::Magnitudes(input).data(), testing::Magnitudes(weights).data(),
        testing::Magnitudes(bias).data(), {});
    EXPECT_LE(
        testing::MaxErrorRelativeTo(
            output->data(),
            reference::FullyConnected(params, input.data(), weights.data(), bias.data(), relu),
            scale),
        1e-5)
        << "n " << c.n << " in " << c.in << " out " << c.out;
  }
}

TEST(CudaSgemmTest, ImageColumnsPlaceEachImageAndLeaveItsPaddingAlone) {
  // C's columns as 3 images of 12 columns, the first 10 live, stored a gap
  // of 5 floats apart: every kernel (up to 8 rows, 64- and 128-row tiles),
  // in one pass and with K split, with bias, residual and ReLU, against
  // float64; the padding columns and the gaps keep what was there.
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  constexpr int kImages = 3, kColumns = 12, kLive = 10, kGap = 5, kDepth = 300;
  constexpr float kUntouched = 1234.5f;
  for (int m : {5, 40, 130}) {
    for (int split_k : {1, 3}) {
      const int n = kImages * kColumns;
      const int64_t image_stride = int64_t{m} * kLive + kGap;
      const std::vector<float> a = testing::RandomVector(int64_t{m} * kDepth);
      const std::vector<float> b = testing::RandomVector(int64_t{kDepth} * n);
      const std::vector<float> bias = testing::RandomVector(m);
      const std::vector<float> residual = testing::RandomVector(kImages * image_stride);
      GemmShape shape{m, n, kDepth, kDepth, n, kLive};
      shape.image_columns = kColumns;
      shape.image_stride = image_stride;
      auto device_a = DeviceBuffer::FromHost(a);
      auto device_b = DeviceBuffer::FromHost(b);
      auto device_bias = DeviceBuffer::FromHost(bias);
      auto device_residual = DeviceBuffer::FromHost(residual);
      auto device_c = DeviceBuffer::FromHost(std::vector<float>(residual.size(), kUntouched));
      auto workspace =
          DeviceBuffer::Allocate(std::max<int64_t>(1, SplitKWorkspaceFloats(shape, split_k)));
      ASSERT_TRUE(device_a.ok() && device_b.ok() && device_bias.ok() && device_residual.ok() &&
                  device_c.ok() && workspace.ok());
      GemmEpilogue epilogue;
      epilogue.bias = device_bias->data();
      epilogue.residual = device_residual->data();
      epilogue.activation = ToDeviceActivation({Activation::kRelu});
      ASSERT_EQ(LaunchSgemm(shape, device_a->data(), device_b->data(), device_c->data(), epilogue,
                            nullptr, GemmMath::kFp32,
                            GemmWorkspace{workspace->data(), workspace->floats(), split_k}),
                cudaSuccess);
      auto output = device_c->ToHost();
      ASSERT_TRUE(output.ok()) << output.status();
      // Where each live (row, column) of the product is stored, and the
      // residual as a dense [m, n] matrix for the float64 reference.
      std::vector<int64_t> at(static_cast<size_t>(m) * n, -1);  // -1: padding
      std::vector<float> dense_residual(at.size(), 0.0f);
      for (int row = 0; row < m; ++row) {
        for (int col = 0; col < n; ++col) {
          const int image = col / kColumns, position = col % kColumns;
          if (position >= kLive) continue;
          const size_t i = static_cast<size_t>(row) * n + col;
          at[i] = image * image_stride + int64_t{row} * kLive + position;
          dense_residual[i] = residual[at[i]];
        }
      }
      const Case dense{m, n, kDepth};
      const std::vector<double> expected = ReferenceGemm(dense, a, kDepth, 0, b, n, 0, bias, true,
                                                         dense_residual, {Activation::kRelu});
      const std::vector<double> scale =
          ReferenceGemm(dense, testing::Magnitudes(a), kDepth, 0, testing::Magnitudes(b), n, 0,
                        testing::Magnitudes(bias), true, testing::Magnitudes(dense_residual), {});
      // Each value relative to its own terms' magnitudes.
      std::vector<bool> written(output->size(), false);
      double worst = 0;
      for (size_t i = 0; i < at.size(); ++i) {
        if (at[i] < 0) continue;
        const double error = std::abs((*output)[at[i]] - expected[i]) / scale[i];
        if (!(error <= worst)) worst = error;  // a NaN stays, and fails
        written[at[i]] = true;
      }
      EXPECT_LE(worst, 1e-5) << "m " << m << " split " << split_k;
      for (size_t i = 0; i < written.size(); ++i) {
        if (!written[i]) {
          ASSERT_EQ((*output)[i], kUntouched) << "m " << m << " float " << i;
        }
      }
    }
  }
}

TEST(CudaSgemmTest, RefusesBadShapes) {
  GemmShape shape{4, 4, 4, 4, 4, 4};
  float* p = reinterpret_cast<float*>(16);
  shape.lda = 3;
  EXPECT_EQ(LaunchSgemm(shape, p, p, p, {}, nullptr), cudaErrorInvalidValue);
  shape.lda = 4;
  shape.m = -1;
  EXPECT_EQ(LaunchSgemm(shape, p, p, p, {}, nullptr), cudaErrorInvalidValue);
  shape.m = 4;
  EXPECT_EQ(LaunchSgemm(shape, nullptr, p, p, {}, nullptr), cudaErrorInvalidValue);
  shape.m = 0;  // nothing to do
  EXPECT_EQ(LaunchSgemm(shape, nullptr, nullptr, nullptr, {}, nullptr), cudaSuccess);
}

}  // namespace
}  // namespace convd::cuda
