// CUDA Winograd F(2x2,3x3) and F(4x4,3x3) against the float64 reference on
// every shape of the CPU tests' grid they apply to (3x3, stride 1; grouped
// and depthwise too), with the CPU tests' bounds (1e-5; 1e-4 for F(4x4,3x3), whose
// transforms lose more), one image per chunk too. Skips without a GPU.
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
  int shapes_run = 0, grouped_run = 0;
  for (const auto& grid_shape : ::convd::testing::kConvShapes) {
    ConvParams params = ::convd::testing::ToConvParams(grid_shape);
    ASSERT_TRUE(ComputeConvOutput(params).ok()) << params.ToString();
    const DeviceConvShape shape = ToDeviceConv(params);
    if (!WinogradApplies(shape)) continue;
    ++shapes_run;
    if (shape.groups > 1) ++grouped_run;
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
    for (int m : {2, 4}) {
      auto d_filters = DeviceBuffer::FromHost(WinogradTransformFilters(m, shape, weights.data()));
      ASSERT_TRUE(d_filters.ok());
      for (int images : {params.n, 1}) {
        const int64_t workspace_floats = WinogradWorkspaceFloats(m, shape, images);
        auto workspace = DeviceBuffer::Allocate(workspace_floats);
        ASSERT_TRUE(workspace.ok());
        ASSERT_EQ(LaunchConvWinograd(m, shape, d_input->data(), d_filters->data(), epilogue,
                                     workspace->data(), workspace_floats, d_output->data(),
                                     nullptr),
                  cudaSuccess);
        auto output = d_output->ToHost();
        ASSERT_TRUE(output.ok()) << output.status();
        EXPECT_LE(MaxRelativeError(output->data(), expected), m == 4 ? 1e-4 : 1e-5)
            << "F(" << m << "x" << m << ",3x3), " << images << " image(s) per chunk, "
            << params.ToString();
      }
    }
  }
  EXPECT_GE(shapes_run, 8) << "the grid has Winograd shapes";
  EXPECT_GE(grouped_run, 2) << "the grid has grouped and depthwise Winograd shapes";
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
}

TEST(CudaWinogradTest, AppliesOnlyTo3x3Stride1Convolutions) {
  DeviceConvShape s;
  s.r = s.s = 3;
  EXPECT_TRUE(WinogradApplies(s));
  s.stride_h = 2;
  EXPECT_FALSE(WinogradApplies(s));
  s.stride_h = 1;
  s.groups = 2;
  EXPECT_TRUE(WinogradApplies(s));
  s.groups = 1;
  s.r = 5;
  EXPECT_FALSE(WinogradApplies(s));
  float* p = reinterpret_cast<float*>(16);
  EXPECT_EQ(LaunchConvWinograd(3, DeviceConvShape{}, p, p, {}, p, 1, p, nullptr),
            cudaErrorInvalidValue);
}

TEST(CudaWinogradTest, FilterTransformOfADeltaIsTheGColumnProduct) {
  // g = delta at the centre: U = G[:,1] G[:,1]^T, checked on the host.
  std::vector<float> delta(9, 0.0f);
  delta[4] = 1.0f;
  DeviceConvShape one_filter;
  one_filter.r = one_filter.s = 3;
  one_filter.k = one_filter.c = 1;
  const std::vector<float> u = WinogradTransformFilters(2, one_filter, delta.data());
  ASSERT_EQ(u.size(), 16u);
  const double g1[4] = {0, 0.5, -0.5, 0};
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) EXPECT_FLOAT_EQ(u[y * 4 + x], g1[y] * g1[x]) << y << "," << x;
  }
}

}  // namespace
}  // namespace convd::cuda
