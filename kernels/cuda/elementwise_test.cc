// The CUDA bias + activation kernel against the float64 reference. Skips
// cleanly where no GPU is present (every CI run); bench/gpu_check.sh runs it
// on the device machine.
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/elementwise_launch.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/testing/numeric.h"

namespace convd::cuda {
namespace {

TEST(CudaElementwiseTest, BiasActivationMatchesReference) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  const int n = 3, channels = 5, plane = 7 * 9;
  const int64_t count = int64_t{n} * channels * plane;
  const std::vector<float> input = testing::RandomVector(count, -3, 3);
  const std::vector<float> bias = testing::RandomVector(channels);
  float *device_in, *device_bias, *device_out;
  ASSERT_EQ(cudaMalloc(&device_in, count * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&device_bias, channels * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&device_out, count * sizeof(float)), cudaSuccess);
  cudaMemcpy(device_in, input.data(), count * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(device_bias, bias.data(), channels * sizeof(float), cudaMemcpyHostToDevice);
  for (ActivationFunction activation :
       {ActivationFunction{Activation::kNone}, {Activation::kRelu}, {Activation::kSigmoid},
        {Activation::kTanh}, {Activation::kLeakyRelu, 0.1f},
        {Activation::kClip, 0.0f, -0.5f, 1.25f}}) {
    ASSERT_EQ(LaunchBiasActivation(device_in, device_bias, count, channels, plane,
                                   ToDeviceActivation(activation), device_out, nullptr),
              cudaSuccess);
    std::vector<float> output(count);
    ASSERT_EQ(cudaMemcpy(output.data(), device_out, count * sizeof(float),
                         cudaMemcpyDeviceToHost),
              cudaSuccess);
    std::vector<float> biased(input);
    for (int64_t i = 0; i < count; ++i) biased[i] += bias[(i / plane) % channels];
    const std::vector<double> expected =
        reference::Activate(biased.data(), count, activation);
    EXPECT_LE(testing::MaxRelativeError(output.data(), expected), 1e-5)
        << ActivationName(activation.type);
  }
  EXPECT_EQ(LaunchBiasActivation(nullptr, nullptr, 4, 1, 4, {}, device_out, nullptr),
            cudaErrorInvalidValue);
  cudaFree(device_in);
  cudaFree(device_bias);
  cudaFree(device_out);
}

TEST(CudaElementwiseTest, AddAndScaleShiftMatchTheReference) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  const int n = 2, channels = 3, plane = 11;
  const int64_t count = int64_t{n} * channels * plane;
  const std::vector<float> a = testing::RandomVector(count, -2, 2);
  const std::vector<float> b = testing::RandomVector(count, -2, 2);
  const std::vector<float> scale = testing::RandomVector(channels);
  const std::vector<float> shift = testing::RandomVector(channels);
  auto d_a = DeviceBuffer::FromHost(a);
  auto d_b = DeviceBuffer::FromHost(b);
  auto d_scale = DeviceBuffer::FromHost(scale);
  auto d_shift = DeviceBuffer::FromHost(shift);
  auto d_out = DeviceBuffer::Allocate(count);
  ASSERT_TRUE(d_a.ok() && d_b.ok() && d_scale.ok() && d_shift.ok() && d_out.ok());
  const ActivationFunction relu{Activation::kRelu};
  ASSERT_EQ(LaunchAdd(d_a->data(), d_b->data(), count, ToDeviceActivation(relu), d_out->data(),
                      nullptr),
            cudaSuccess);
  std::vector<double> sum(count);
  for (int64_t i = 0; i < count; ++i) sum[i] = std::max(0.0, double{a[i]} + b[i]);
  EXPECT_LE(testing::MaxRelativeError(d_out->ToHost()->data(), sum), 1e-6);
  ASSERT_EQ(LaunchScaleShift(d_a->data(), count, channels, plane, d_scale->data(),
                             d_shift->data(), d_out->data(), nullptr),
            cudaSuccess);
  std::vector<double> scaled(count);
  for (int64_t i = 0; i < count; ++i) {
    const int c = static_cast<int>((i / plane) % channels);
    scaled[i] = double{a[i]} * scale[c] + shift[c];
  }
  EXPECT_LE(testing::MaxRelativeError(d_out->ToHost()->data(), scaled), 1e-6);
}

TEST(CudaCheckTest, ErrorsBecomeStatusesWithFileAndLine) {
  const absl::Status status =
      CudaStatus(cudaErrorMemoryAllocation, "cudaMalloc(&p, n)", "file.cc", 12);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(status.message().find("file.cc:12: cudaMalloc(&p, n): cudaErrorMemoryAllocation"),
            std::string::npos)
      << status;
  EXPECT_TRUE(CudaStatus(cudaSuccess, "x", "f", 1).ok());
}

}  // namespace
}  // namespace convd::cuda
