// The CUDA convolutions (im2col + our SGEMM, direct) against the float64
// reference over the CPU tests' shape grid, with every epilogue, fresh
// random inputs, the CPU tests' bound. im2col also runs with a workspace
// for one image at a time, and on the first image alone with room to split
// its product's K. Skips cleanly without a GPU.
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/conv_launch.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/shape_grid.h"

namespace convd::cuda {
namespace {

using ::convd::testing::MaxErrorRelativeTo;
using ::convd::testing::RandomVector;

struct Epilogue {
  const char* name;
  bool bias, residual;
  ActivationFunction activation;
};

TEST(CudaConvTest, Im2colAndDirectMatchTheReferenceOnTheShapeGrid) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  int split_shapes = 0;
  const Epilogue epilogues[] = {{"none", false, false, {Activation::kNone}},
                                {"bias+relu", true, false, {Activation::kRelu}},
                                {"bias+residual+clip", true, true, {Activation::kClip, 0, -0.5f, 2}}};
  for (const auto& grid_shape : ::convd::testing::kConvShapes) {
    ConvParams params = ::convd::testing::ToConvParams(grid_shape);
    ASSERT_TRUE(ComputeConvOutput(params).ok()) << params.ToString();
    const DeviceConvShape shape = ToDeviceConv(params);
    const std::vector<float> input = RandomVector(params.input_elements());
    const std::vector<float> weights = RandomVector(params.weight_elements());
    for (const Epilogue& e : epilogues) {
      const std::vector<float> bias = e.bias ? RandomVector(params.k) : std::vector<float>();
      const std::vector<float> residual =
          e.residual ? RandomVector(params.output_elements()) : std::vector<float>();
      const float* bias_data = e.bias ? bias.data() : nullptr;
      const float* residual_data = e.residual ? residual.data() : nullptr;
      const std::vector<double> expected = reference::Convolution(
          params, input.data(), weights.data(), bias_data, residual_data, e.activation);
      // Errors relative to the sums before the activation (MaxErrorRelativeTo).
      const std::vector<double> unactivated = reference::Convolution(
          params, input.data(), weights.data(), bias_data, residual_data, {Activation::kNone});
      auto d_input = DeviceBuffer::FromHost(input);
      auto d_weights = DeviceBuffer::FromHost(weights);
      auto d_bias = DeviceBuffer::FromHost(bias);
      auto d_residual = DeviceBuffer::FromHost(residual);
      auto d_output = DeviceBuffer::Allocate(params.output_elements());
      ASSERT_TRUE(d_input.ok() && d_weights.ok() && d_bias.ok() && d_residual.ok() &&
                  d_output.ok());
      ConvEpilogue epilogue;
      epilogue.bias = e.bias ? d_bias->data() : nullptr;
      epilogue.residual = e.residual ? d_residual->data() : nullptr;
      epilogue.activation = ToDeviceActivation(e.activation);
      // im2col of `s` (the batch or its first image) with a workspace of
      // `floats`; the output on the host, empty (with the failure recorded)
      // when it did not run.
      auto run_im2col = [&](const DeviceConvShape& s, int64_t floats) -> std::vector<float> {
        auto workspace = DeviceBuffer::Allocate(floats);
        EXPECT_TRUE(workspace.ok()) << workspace.status();
        if (!workspace.ok()) return {};
        const cudaError_t error =
            LaunchConvIm2col(s, d_input->data(), d_weights->data(), epilogue, workspace->data(),
                             floats, d_output->data(), nullptr);
        EXPECT_EQ(error, cudaSuccess) << cudaGetErrorName(error);
        if (error != cudaSuccess) return {};
        auto output = d_output->ToHost();
        EXPECT_TRUE(output.ok()) << output.status();
        return output.ok() ? *std::move(output) : std::vector<float>();
      };
      // Whole batch in one unrolling, then one image at a time.
      for (int images : {params.n, 1}) {
        const std::vector<float> output = run_im2col(shape, Im2colWorkspaceFloats(shape, images));
        ASSERT_FALSE(output.empty());
        EXPECT_LE(MaxErrorRelativeTo(output.data(), expected, unactivated), 1e-5)
            << "im2col, " << images << " image(s) per unrolling, " << e.name << ", "
            << params.ToString();
      }
      // The first image alone, as a batch-1 request runs, with the room its
      // product needs to split K where SplitKFor says so.
      DeviceConvShape first_image = shape;
      first_image.n = 1;
      const int64_t split_floats = Im2colSplitKFloats(first_image);
      split_shapes += split_floats > 0 && &e == &epilogues[0];
      const std::vector<float> first_output =
          run_im2col(first_image, Im2colWorkspaceFloats(first_image, 1) + split_floats);
      ASSERT_FALSE(first_output.empty());
      const size_t image_elements = params.output_elements() / params.n;
      EXPECT_LE(MaxErrorRelativeTo(
                    first_output.data(),
                    std::vector<double>(expected.begin(), expected.begin() + image_elements),
                    std::vector<double>(unactivated.begin(), unactivated.begin() + image_elements)),
                1e-5)
          << "im2col, first image, split " << (split_floats > 0) << ", " << e.name << ", "
          << params.ToString();
      ASSERT_EQ(LaunchConvDirect(shape, d_input->data(), d_weights->data(), epilogue,
                                 d_output->data(), nullptr),
                cudaSuccess);
      auto output = d_output->ToHost();
      ASSERT_TRUE(output.ok()) << output.status();
      EXPECT_LE(MaxErrorRelativeTo(output->data(), expected, unactivated), 1e-5)
          << "direct, " << e.name << ", " << params.ToString();
    }
  }
  // Some grid shapes are long enough in C*R*S and small enough in K*P*Q
  // for a device of many SMs (the emulation says 132) to split.
  EXPECT_GT(split_shapes, 0);
}

TEST(CudaConvTest, RefusesBadArguments) {
  ConvParams params = ::convd::testing::ToConvParams(::convd::testing::kConvShapes[0]);
  ASSERT_TRUE(ComputeConvOutput(params).ok());
  const DeviceConvShape shape = ToDeviceConv(params);
  float* p = reinterpret_cast<float*>(16);
  EXPECT_EQ(LaunchConvIm2col(shape, p, p, {}, p, Im2colWorkspaceFloats(shape, 1) - 1, p, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(LaunchConvDirect(shape, nullptr, p, {}, p, nullptr), cudaErrorInvalidValue);
  DeviceConvShape odd_groups = shape;
  odd_groups.groups = 2;  // 3 channels do not split in two
  EXPECT_EQ(LaunchConvDirect(odd_groups, p, p, {}, p, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace convd::cuda
