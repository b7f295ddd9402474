// CUDA Winograd F(2x2,3x3), F(4x4,3x3), F(2x2,5x5) and F(4x4,5x5) against
// the float64 reference on every shape of the CPU tests' grid they apply to
// (3x3 or 5x5, stride 1; grouped and depthwise too), with the CPU tests'
// bounds (1e-5; 1e-4 for the 6x6 and 8x8 tiles, whose transforms lose
// more), one image per chunk too. Skips without a GPU.
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/winograd_launch.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/shape_grid.h"

namespace convd::cuda {
namespace {

using ::convd::testing::MaxRelativeError;
using ::convd::testing::RandomVector;

TEST(CudaWinogradTest, MatchesTheReferenceWhereItApplies) {
  int shapes_run = 0, grouped_run = 0, shapes_5x5 = 0;
  for (const auto& grid_shape : ::convd::testing::kConvShapes) {
    ConvParams params = ::convd::testing::ToConvParams(grid_shape);
    ASSERT_TRUE(ComputeConvOutput(params).ok()) << params.ToString();
    const DeviceConvShape shape = ToDeviceConv(params);
    std::vector<WinogradVariant> variants;
    for (WinogradVariant v : kWinogradVariants) {
      if (WinogradApplies(v, shape)) variants.push_back(v);
    }
    if (variants.empty()) continue;
    ++shapes_run;
    if (shape.groups > 1) ++grouped_run;
    if (shape.r == 5) ++shapes_5x5;
    if (!DeviceAvailable()) continue;
    const std::vector<float> input = RandomVector(params.input_elements());
    const std::vector<float> weights = RandomVector(params.weight_elements());
    const std::vector<float> bias = RandomVector(params.k);
    const std::vector<float> residual = RandomVector(params.output_elements());
    const ActivationFunction relu{Activation::kRelu};
    const std::vector<double> expected = reference::Convolution(
        params, input.data(), weights.data(), bias.data(), residual.data(), relu);
    auto d_input = DeviceBuffer::FromHost(input);
    auto d_bias = DeviceBuffer::FromHost(bias);
    auto d_residual = DeviceBuffer::FromHost(residual);
    auto d_output = DeviceBuffer::Allocate(params.output_elements());
    ASSERT_TRUE(d_input.ok() && d_bias.ok() && d_residual.ok() && d_output.ok());
    ConvEpilogue epilogue;
    epilogue.bias = d_bias->data();
    epilogue.residual = d_residual->data();
    epilogue.activation = ToDeviceActivation(relu);
    for (WinogradVariant variant : variants) {
      auto d_filters =
          DeviceBuffer::FromHost(WinogradTransformFilters(variant, shape, weights.data()));
      ASSERT_TRUE(d_filters.ok());
      const bool larger_tiles = variant != WinogradVariant::kF23;  // 6x6 and 8x8
      for (int images : {params.n, 1}) {
        const int64_t workspace_floats = WinogradWorkspaceFloats(variant, shape, images);
        auto workspace = DeviceBuffer::Allocate(workspace_floats);
        ASSERT_TRUE(workspace.ok());
        ASSERT_EQ(
            LaunchConvWinograd(variant, shape, d_input->data(), d_filters->data(), epilogue,
                               workspace->data(), workspace_floats, d_output->data(), nullptr),
            cudaSuccess);
        auto output = d_output->ToHost();
        ASSERT_TRUE(output.ok()) << output.status();
        EXPECT_LE(MaxRelativeError(output->data(), expected), larger_tiles ? 1e-4 : 1e-5)
            << WinogradVariantName(variant) << ", " << images << " image(s) per chunk, "
            << params.ToString();
      }
    }
  }
  EXPECT_GE(shapes_run, 8) << "the grid has Winograd shapes";
  EXPECT_GE(grouped_run, 2) << "the grid has grouped and depthwise Winograd shapes";
  EXPECT_GE(shapes_5x5, 3) << "the grid has 5x5 stride-1 shapes";
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
}

TEST(CudaWinogradTest, EachVariantAppliesOnlyToItsFilterAtStride1) {
  DeviceConvShape s;
  s.r = s.s = 3;
  EXPECT_TRUE(WinogradApplies(WinogradVariant::kF23, s));
  EXPECT_TRUE(WinogradApplies(WinogradVariant::kF43, s));
  EXPECT_FALSE(WinogradApplies(WinogradVariant::kF25, s));
  EXPECT_FALSE(WinogradApplies(WinogradVariant::kF45, s));
  s.stride_h = 2;
  EXPECT_FALSE(WinogradApplies(WinogradVariant::kF43, s));
  s.stride_h = 1;
  s.groups = 2;
  EXPECT_TRUE(WinogradApplies(WinogradVariant::kF43, s));
  s.groups = 1;
  s.r = s.s = 5;
  EXPECT_FALSE(WinogradApplies(WinogradVariant::kF23, s));
  EXPECT_FALSE(WinogradApplies(WinogradVariant::kF43, s));
  EXPECT_TRUE(WinogradApplies(WinogradVariant::kF25, s));
  EXPECT_TRUE(WinogradApplies(WinogradVariant::kF45, s));
  s.s = 3;  // 5x3
  EXPECT_FALSE(WinogradApplies(WinogradVariant::kF25, s));
  EXPECT_FALSE(WinogradApplies(WinogradVariant::kF45, s));
  s.s = 5;
  s.dilation_w = 2;
  EXPECT_FALSE(WinogradApplies(WinogradVariant::kF25, s));
  EXPECT_TRUE(WinogradTransformFilters(WinogradVariant::kF25, s, nullptr).empty());
  // A variant that does not apply is refused before anything is read.
  float* p = reinterpret_cast<float*>(16);
  DeviceConvShape three;
  three.r = three.s = 3;
  EXPECT_EQ(LaunchConvWinograd(WinogradVariant::kF25, three, p, p, {}, p, 1 << 20, p, nullptr),
            cudaErrorInvalidValue);
}

TEST(CudaWinogradTest, FilterTransformOfADeltaIsTheGColumnProduct) {
  // g = delta at the centre: U = G[:,1] G[:,1]^T, checked on the host.
  std::vector<float> delta(9, 0.0f);
  delta[4] = 1.0f;
  DeviceConvShape one_filter;
  one_filter.r = one_filter.s = 3;
  one_filter.k = one_filter.c = 1;
  const std::vector<float> u =
      WinogradTransformFilters(WinogradVariant::kF23, one_filter, delta.data());
  ASSERT_EQ(u.size(), 16u);
  const double g1[4] = {0, 0.5, -0.5, 0};
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) EXPECT_FLOAT_EQ(u[y * 4 + x], g1[y] * g1[x]) << y << "," << x;
  }
}

}  // namespace
}  // namespace convd::cuda
