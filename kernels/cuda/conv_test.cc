// The CUDA convolutions (im2col + our SGEMM, implicit GEMM, direct) against
// the float64 reference over the CPU tests' shape grid, with every
// epilogue, fresh random inputs, the CPU tests' bound. im2col also runs with
// a workspace for one image at a time, and on the first image alone with
// room to split its product's K; the SGEMM-backed algorithms run in every
// math too (the reference on inputs rounded as the tensor cores round
// them). Skips cleanly without a GPU.
#include <cctype>
#include <climits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/conv_launch.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/gemm_math_rounding.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/shape_grid.h"

namespace convd::cuda {
namespace {

using ::convd::testing::MaxErrorRelativeTo;
using ::convd::testing::RandomVector;
using ::convd::testing::RoundedFor;

struct Epilogue {
  const char* name;
  bool bias, residual;
  ActivationFunction activation;
};

const Epilogue kEpilogues[] = {
    {"none", false, false, {Activation::kNone}},
    {"bias+relu", true, false, {Activation::kRelu}},
    {"bias+residual+clip", true, true, {Activation::kClip, 0, -0.5f, 2}}};

// One grid shape with one epilogue: its random data on the host and the
// device, and the float64 results to hold the kernels to.
class ConvCase {
 public:
  // `math`: the reference sees the input and filters rounded as its tensor
  // cores round them (the device gets them unrounded).
  ConvCase(const ::convd::testing::ConvShape& grid_shape, const Epilogue& e,
           GemmMath math = GemmMath::kFp32)
      : params_(::convd::testing::ToConvParams(grid_shape)), epilogue_name_(e.name) {
    ok_ = ComputeConvOutput(params_).ok();
    if (!ok_) return;
    shape_ = ToDeviceConv(params_);
    const std::vector<float> input = RandomVector(params_.input_elements());
    const std::vector<float> weights = RandomVector(params_.weight_elements());
    const std::vector<float> bias = e.bias ? RandomVector(params_.k) : std::vector<float>();
    const std::vector<float> residual =
        e.residual ? RandomVector(params_.output_elements()) : std::vector<float>();
    const float* bias_data = e.bias ? bias.data() : nullptr;
    const float* residual_data = e.residual ? residual.data() : nullptr;
    const std::vector<float> seen_input = RoundedFor(math, input);
    const std::vector<float> seen_weights = RoundedFor(math, weights);
    expected_ = reference::Convolution(params_, seen_input.data(), seen_weights.data(), bias_data,
                                       residual_data, e.activation);
    // Errors relative to the sums before the activation (MaxErrorRelativeTo).
    unactivated_ = reference::Convolution(params_, seen_input.data(), seen_weights.data(),
                                          bias_data, residual_data, {Activation::kNone});
    auto d_input = DeviceBuffer::FromHost(input);
    auto d_weights = DeviceBuffer::FromHost(weights);
    auto d_bias = DeviceBuffer::FromHost(bias);
    auto d_residual = DeviceBuffer::FromHost(residual);
    auto d_output = DeviceBuffer::Allocate(params_.output_elements());
    ok_ = d_input.ok() && d_weights.ok() && d_bias.ok() && d_residual.ok() && d_output.ok();
    if (!ok_) return;
    input_ = *std::move(d_input);
    weights_ = *std::move(d_weights);
    bias_ = *std::move(d_bias);
    residual_ = *std::move(d_residual);
    output_ = *std::move(d_output);
    epilogue_.bias = e.bias ? bias_.data() : nullptr;
    epilogue_.residual = e.residual ? residual_.data() : nullptr;
    epilogue_.activation = ToDeviceActivation(e.activation);
  }

  bool ok() const { return ok_; }
  const ConvParams& params() const { return params_; }
  const DeviceConvShape& shape() const { return shape_; }
  const float* input() const { return input_.data(); }
  const float* weights() const { return weights_.data(); }
  const ConvEpilogue& epilogue() const { return epilogue_; }
  float* output() { return output_.data(); }

  // The largest error of the output (its first `images` images; all when
  // 0) against the reference, after `launch` ran; 1 (with the failure
  // recorded) when it failed.
  double ErrorAfter(cudaError_t launch, int images = 0) {
    EXPECT_EQ(launch, cudaSuccess) << cudaGetErrorName(launch);
    if (launch != cudaSuccess) return 1;
    auto output = output_.ToHost();
    EXPECT_TRUE(output.ok()) << output.status();
    if (!output.ok()) return 1;
    const size_t count =
        images == 0 ? expected_.size() : params_.output_elements() / params_.n * images;
    return MaxErrorRelativeTo(
        output->data(), std::vector<double>(expected_.begin(), expected_.begin() + count),
        std::vector<double>(unactivated_.begin(), unactivated_.begin() + count));
  }

  // im2col of `shape` (the case's, or its first image) with a workspace of
  // `floats`; its error as ErrorAfter's.
  double Im2colError(const DeviceConvShape& shape, int64_t floats,
                     GemmMath math = GemmMath::kFp32) {
    auto workspace = DeviceBuffer::Allocate(floats);
    EXPECT_TRUE(workspace.ok()) << workspace.status();
    if (!workspace.ok()) return 1;
    return ErrorAfter(LaunchConvIm2col(shape, input(), weights(), epilogue_, workspace->data(),
                                       floats, output(), nullptr, math),
                      shape.n);
  }

  std::string Describe() const { return std::string(epilogue_name_) + ", " + params_.ToString(); }

 private:
  ConvParams params_;
  const char* epilogue_name_;
  bool ok_ = false;
  DeviceConvShape shape_;
  std::vector<double> expected_, unactivated_;
  DeviceBuffer input_, weights_, bias_, residual_, output_;
  ConvEpilogue epilogue_;
};

TEST(CudaConvTest, Im2colImplicitGemmAndDirectMatchTheReferenceOnTheShapeGrid) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  int split_shapes = 0, batch_split_shapes = 0, identity_shapes = 0;
  for (const auto& grid_shape : ::convd::testing::kConvShapes) {
    for (const Epilogue& e : kEpilogues) {
      ConvCase c(grid_shape, e);
      ASSERT_TRUE(c.ok()) << c.Describe();
      const DeviceConvShape& shape = c.shape();
      identity_shapes += Im2colIsIdentity(shape) && &e == &kEpilogues[0];
      // Whole batch in one unrolling (with and without the room to split
      // K, where a device of many SMs would), then one image at a time.
      for (int images : {shape.n, 1}) {
        EXPECT_LE(c.Im2colError(shape, Im2colWorkspaceFloats(shape, images)), 1e-5)
            << "im2col, " << images << " image(s) per unrolling, " << c.Describe();
      }
      // The whole batch again where its product would split K: with the room.
      if (const int64_t batch_split_floats = Im2colSplitKFloats(shape, shape.n);
          batch_split_floats > 0) {
        batch_split_shapes += shape.n > 1 && &e == &kEpilogues[0];
        EXPECT_LE(c.Im2colError(shape, Im2colWorkspaceFloats(shape, shape.n) + batch_split_floats),
                  1e-5)
            << "im2col, whole batch, split, " << c.Describe();
      }
      // The first image alone, as a batch-1 request runs, with the room its
      // product needs to split K where SplitKFor says so.
      DeviceConvShape first_image = shape;
      first_image.n = 1;
      const int64_t split_floats = Im2colSplitKFloats(first_image, 1);
      split_shapes += split_floats > 0 && &e == &kEpilogues[0];
      EXPECT_LE(c.Im2colError(first_image, Im2colWorkspaceFloats(first_image, 1) + split_floats),
                1e-5)
          << "im2col, first image, split " << (split_floats > 0) << ", " << c.Describe();
      EXPECT_LE(c.ErrorAfter(LaunchConvImplicitGemm(shape, c.input(), c.weights(), c.epilogue(),
                                                    c.output(), nullptr)),
                1e-5)
          << "implicit GEMM, " << c.Describe();
      EXPECT_LE(c.ErrorAfter(LaunchConvDirect(shape, c.input(), c.weights(), c.epilogue(),
                                              c.output(), nullptr)),
                1e-5)
          << "direct, " << c.Describe();
    }
  }
  // Some grid shapes are long enough in C*R*S and small enough in K*P*Q
  // for a device of many SMs (the emulation says 132) to split, one image
  // or several side by side, and some are 1x1 layers whose unrolling is the
  // identity (no workspace).
  EXPECT_GT(split_shapes, 0);
  EXPECT_GT(batch_split_shapes, 0);
  EXPECT_GT(identity_shapes, 0);
}

// The unrolling and direct kernels take a row (an unrolled row; an output
// plane) per block row of the grid, whose height is capped at 65,535, and
// loop over the rest: layers with more rows than that.
TEST(CudaConvTest, LayersOfMoreRowsThanTheGridIsHighMatchTheReference) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  // 1024 channels of 3x3 taps for 8 images: 73,728 unrolled rows.
  const ::convd::testing::ConvShape deep = {8, 1024, 3, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  ConvCase unrolled(deep, kEpilogues[2]);
  ASSERT_TRUE(unrolled.ok()) << unrolled.Describe();
  ASSERT_GT(unrolled.shape().gemm_k() * unrolled.shape().n, 65535);
  EXPECT_LE(unrolled.Im2colError(unrolled.shape(),
                                 Im2colWorkspaceFloats(unrolled.shape(), unrolled.shape().n)),
            1e-5)
      << "im2col, " << unrolled.Describe();
  // 8 images of 8,200 filters: 65,600 output planes.
  const ::convd::testing::ConvShape wide = {8, 2, 2, 2, 8200, 1, 1, 1, 0, 0, 0, 0, 1, 1};
  ConvCase planes(wide, kEpilogues[2]);
  ASSERT_TRUE(planes.ok()) << planes.Describe();
  EXPECT_LE(planes.ErrorAfter(LaunchConvDirect(planes.shape(), planes.input(), planes.weights(),
                                               planes.epilogue(), planes.output(), nullptr)),
            1e-5)
      << "direct, " << planes.Describe();
}

class CudaConvMathTest : public ::testing::TestWithParam<GemmMath> {};

INSTANTIATE_TEST_SUITE_P(TensorCoreMaths, CudaConvMathTest,
                         ::testing::Values(GemmMath::kTf32, GemmMath::kFp16), [](const auto& info) {
                           std::string name = GemmMathName(info.param);
                           name[0] = static_cast<char>(std::toupper(name[0]));
                           return name;  // Tf32, Fp16
                         });

// The SGEMM-backed algorithms on the tensor cores: to the FP32 bound
// against the reference on rounded inputs (as sgemm_test checks the
// products), so a tile or patch the loaders misplace shows as in FP32.
TEST_P(CudaConvMathTest, Im2colAndImplicitGemmMatchTheReferenceOnRoundedInputs) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  const GemmMath math = GetParam();
  const Epilogue& e = kEpilogues[2];
  for (const auto& grid_shape : ::convd::testing::kConvShapes) {
    ConvCase c(grid_shape, e, math);
    ASSERT_TRUE(c.ok()) << c.Describe();
    EXPECT_LE(c.Im2colError(c.shape(), Im2colWorkspaceFloats(c.shape(), c.shape().n), math), 1e-5)
        << "im2col, " << GemmMathName(math) << ", " << c.Describe();
    EXPECT_LE(c.ErrorAfter(LaunchConvImplicitGemm(c.shape(), c.input(), c.weights(), c.epilogue(),
                                                  c.output(), nullptr, math)),
              1e-5)
        << "implicit GEMM, " << GemmMathName(math) << ", " << c.Describe();
  }
}

TEST(CudaConvTest, RefusesBadArguments) {
  ConvParams params = ::convd::testing::ToConvParams(::convd::testing::kConvShapes[0]);
  ASSERT_TRUE(ComputeConvOutput(params).ok());
  const DeviceConvShape shape = ToDeviceConv(params);
  ASSERT_FALSE(Im2colIsIdentity(shape));
  float* p = reinterpret_cast<float*>(16);
  EXPECT_EQ(LaunchConvIm2col(shape, p, p, {}, p, Im2colWorkspaceFloats(shape, 1) - 1, p, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(LaunchConvIm2col(shape, p, p, {}, nullptr, Im2colWorkspaceFloats(shape, 1), p, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(LaunchConvDirect(shape, nullptr, p, {}, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(LaunchConvImplicitGemm(shape, p, nullptr, {}, p, nullptr), cudaErrorInvalidValue);
  DeviceConvShape odd_groups = shape;
  odd_groups.groups = 2;  // 3 channels do not split in two
  EXPECT_EQ(LaunchConvDirect(odd_groups, p, p, {}, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(LaunchConvImplicitGemm(odd_groups, p, p, {}, p, nullptr), cudaErrorInvalidValue);
  DeviceConvShape too_many_images = shape;
  // Images side by side: more columns than an int counts.
  too_many_images.n = static_cast<int>(INT_MAX / shape.padded_plane_out() + 1);
  EXPECT_FALSE(GroupGemmFits(too_many_images, too_many_images.n));
  EXPECT_TRUE(GroupGemmFits(too_many_images, too_many_images.n - 1));
  EXPECT_EQ(LaunchConvImplicitGemm(too_many_images, p, p, {}, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(LaunchConvImplicitGemm(shape, p, p, {}, p, nullptr, static_cast<GemmMath>(7)),
            cudaErrorInvalidValue);
}

}  // namespace
}  // namespace convd::cuda
