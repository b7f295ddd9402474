// Our kernels against NVIDIA's on the same data: every convolution
// algorithm against cuDNN's fastest FP32 (no TF32) algorithm over the shape
// grid the CPU tests use (shapes cuDNN's legacy API can express), and our
// SGEMM against cuBLAS over odd shapes. Each side is also checked against
// the float64 reference, so a wrongly configured peer fails here instead of
// agreeing with a wrong kernel. Skips cleanly without a GPU; the library
// check runs everywhere the toolkit is installed.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/conv_launch.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/peers/cublas_gemm.h"
#include "kernels/cuda/peers/cudnn_convolution.h"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/cuda/winograd_launch.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/shape_grid.h"

namespace convd::cuda {
namespace {

using ::convd::testing::MaxRelativeError;
using ::convd::testing::RandomVector;

// max |ours - peer| / max |peer|.
double MaxRelativeDifference(const std::vector<float>& ours, const std::vector<float>& peer) {
  return MaxRelativeError(ours.data(), std::vector<double>(peer.begin(), peer.end()));
}

TEST(PeerLibrariesTest, OpenOrSayWhy) {
  // Without a device the handle cannot be created, but every function this
  // code takes from the libraries must resolve first: the error then names
  // the handle, not a missing symbol.
  auto cudnn = Cudnn::Open(nullptr);
  auto cublas = Cublas::Open(nullptr);
  if (DeviceAvailable()) {
    ASSERT_TRUE(cudnn.ok()) << cudnn.status();
    ASSERT_TRUE(cublas.ok()) << cublas.status();
    EXPECT_EQ((*cudnn)->Version().rfind("cuDNN 9.", 0), 0u) << (*cudnn)->Version();
    return;
  }
  if (!cudnn.ok() && cudnn.status().message().find("cannot open") != absl::string_view::npos) {
    GTEST_SKIP() << "cuDNN is not installed: " << cudnn.status();
  }
  ASSERT_FALSE(cudnn.ok());
  EXPECT_EQ(cudnn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(cudnn.status().message().find("cudnnCreate"), absl::string_view::npos)
      << cudnn.status();
  ASSERT_FALSE(cublas.ok());
  EXPECT_EQ(cublas.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(cublas.status().message().find("cublasCreate"), absl::string_view::npos)
      << cublas.status();
}

TEST(PeerCrossCheckTest, ConvolutionsAgreeWithCudnn) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  auto cudnn = Cudnn::Open(nullptr);
  ASSERT_TRUE(cudnn.ok()) << cudnn.status();
  const int64_t workspace_bytes = int64_t{256} << 20;
  auto workspace = DeviceBuffer::Allocate(workspace_bytes / sizeof(float));
  ASSERT_TRUE(workspace.ok());
  int compared = 0;
  for (const auto& grid_shape : ::convd::testing::kConvShapes) {
    ConvParams params = ::convd::testing::ToConvParams(grid_shape);
    ASSERT_TRUE(ComputeConvOutput(params).ok()) << params.ToString();
    const DeviceConvShape shape = ToDeviceConv(params);
    auto peer = (*cudnn)->Convolution(shape, GemmMath::kFp32);
    if (!peer.ok()) {
      ASSERT_EQ(peer.status().code(), absl::StatusCode::kInvalidArgument) << peer.status();
      continue;  // asymmetric padding
    }
    const std::vector<float> input = RandomVector(params.input_elements());
    const std::vector<float> weights = RandomVector(params.weight_elements());
    const std::vector<double> expected = reference::Convolution(
        params, input.data(), weights.data(), nullptr, nullptr, {Activation::kNone});
    auto d_input = DeviceBuffer::FromHost(input);
    auto d_weights = DeviceBuffer::FromHost(weights);
    auto d_peer = DeviceBuffer::Allocate(params.output_elements());
    auto d_ours = DeviceBuffer::Allocate(params.output_elements());
    ASSERT_TRUE(d_input.ok() && d_weights.ok() && d_peer.ok() && d_ours.ok());

    auto ranked = (*peer)->Find(d_input->data(), d_weights->data(), d_peer->data(),
                                workspace->data(), workspace_bytes);
    ASSERT_TRUE(ranked.ok()) << ranked.status();
    ASSERT_FALSE(ranked->empty()) << params.ToString();
    ASSERT_TRUE((*peer)->Run(ranked->front().algorithm, d_input->data(), d_weights->data(),
                             d_peer->data(), workspace->data(), workspace_bytes)
                    .ok());
    auto peer_output = d_peer->ToHost();
    ASSERT_TRUE(peer_output.ok()) << peer_output.status();
    EXPECT_LE(MaxRelativeError(peer_output->data(), expected), 1e-5)
        << "cuDNN " << ranked->front().name << ", " << params.ToString();

    auto check_ours = [&](const char* algorithm, double bound, cudaError_t launched) {
      ASSERT_EQ(launched, cudaSuccess) << algorithm << ", " << params.ToString();
      auto ours = d_ours->ToHost();
      ASSERT_TRUE(ours.ok()) << ours.status();
      EXPECT_LE(MaxRelativeDifference(*ours, *peer_output), bound)
          << algorithm << " vs cuDNN " << ranked->front().name << ", " << params.ToString();
      ++compared;
    };
    check_ours("direct", 2e-5,
               LaunchConvDirect(shape, d_input->data(), d_weights->data(), {}, d_ours->data(),
                                nullptr));
    const int64_t im2col_floats = Im2colWorkspaceFloats(shape, shape.n);
    auto im2col_workspace = DeviceBuffer::Allocate(im2col_floats);
    ASSERT_TRUE(im2col_workspace.ok());
    check_ours("im2col", 2e-5,
               LaunchConvIm2col(shape, d_input->data(), d_weights->data(), {},
                                im2col_workspace->data(), im2col_floats, d_ours->data(),
                                nullptr));
    check_ours("implicit_gemm", 2e-5,
               LaunchConvImplicitGemm(shape, d_input->data(), d_weights->data(), {}, d_ours->data(),
                                      nullptr));
    for (WinogradVariant variant : kWinogradVariants) {
      if (!WinogradApplies(variant, shape)) continue;
      auto d_transformed =
          DeviceBuffer::FromHost(WinogradTransformFilters(variant, shape, weights.data()));
      const int64_t floats = WinogradWorkspaceFloats(variant, shape, shape.n);
      auto winograd_workspace = DeviceBuffer::Allocate(floats);
      ASSERT_TRUE(d_transformed.ok() && winograd_workspace.ok());
      check_ours(WinogradVariantName(variant), variant == WinogradVariant::kF23 ? 2e-5 : 1.1e-4,
                 LaunchConvWinograd(variant, shape, d_input->data(), d_transformed->data(), {},
                                    winograd_workspace->data(), floats, d_ours->data(), nullptr));
    }
  }
  EXPECT_GT(compared, 40);  // most of the grid is expressible
}

TEST(PeerCrossCheckTest, SgemmAgreesWithCublas) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  auto cublas = Cublas::Open(nullptr);
  ASSERT_TRUE(cublas.ok()) << cublas.status();
  struct Case {
    int m, n, k, batch;
  };
  for (const Case& c : {Case{1, 1, 1, 1}, Case{7, 13, 5, 1}, Case{129, 255, 17, 3},
                        Case{64, 3025, 363, 2}, Case{256, 4096, 9216, 1}, Case{1000, 3, 77, 1},
                        Case{1, 4096, 9216, 1}, Case{8, 1000, 4096, 1}}) {
    GemmShape shape;
    shape.m = c.m, shape.n = c.n, shape.k = c.k, shape.batch = c.batch;
    shape.lda = c.k, shape.ldb = c.n, shape.ldc = c.n;
    shape.stride_a = int64_t{c.m} * c.k, shape.stride_b = int64_t{c.k} * c.n;
    shape.stride_c = int64_t{c.m} * c.n;
    const std::vector<float> a = RandomVector(shape.stride_a * c.batch);
    const std::vector<float> b = RandomVector(shape.stride_b * c.batch);
    auto d_a = DeviceBuffer::FromHost(a);
    auto d_b = DeviceBuffer::FromHost(b);
    auto d_peer = DeviceBuffer::Allocate(shape.stride_c * c.batch);
    auto d_ours = DeviceBuffer::Allocate(shape.stride_c * c.batch);
    ASSERT_TRUE(d_a.ok() && d_b.ok() && d_peer.ok() && d_ours.ok());
    ASSERT_TRUE(
        (*cublas)->Sgemm(shape, d_a->data(), d_b->data(), d_peer->data(), GemmMath::kFp32).ok());
    ASSERT_EQ(LaunchSgemm(shape, d_a->data(), d_b->data(), d_ours->data(), {}, nullptr),
              cudaSuccess);
    auto peer = d_peer->ToHost();
    auto ours = d_ours->ToHost();
    ASSERT_TRUE(peer.ok() && ours.ok());
    // Spot-check the peer itself on the first matrix in float64.
    double worst = 0, scale = 0;
    for (int i = 0; i < c.m; i += std::max(1, c.m / 7)) {
      for (int j = 0; j < c.n; j += std::max(1, c.n / 7)) {
        double sum = 0;
        for (int p = 0; p < c.k; ++p) sum += double{a[i * c.k + p]} * b[p * c.n + j];
        worst = std::max(worst, std::abs(sum - (*peer)[i * c.n + j]));
        scale = std::max(scale, std::abs(sum));
      }
    }
    EXPECT_LE(worst, 1e-5 * std::max(scale, 1.0)) << c.m << "x" << c.n << "x" << c.k;
    EXPECT_LE(MaxRelativeDifference(*ours, *peer), 2e-5)
        << c.m << "x" << c.n << "x" << c.k << " batch " << c.batch;
  }
}

}  // namespace
}  // namespace convd::cuda
