// NVML through dlopen: on a GPU machine the device's utilisation and power
// read back in range; without the driver's library, opening says which
// library is missing. Each test skips where it does not apply.
#include "server/cuda/nvml.h"

#include "gtest/gtest.h"
#include "kernels/cuda/device.h"

namespace convd {
namespace {

TEST(NvmlTest, ReadsTheDevicesUtilisationAndPower) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  auto nvml = Nvml::OpenForCudaDevice(0);
  ASSERT_TRUE(nvml.ok()) << nvml.status();
  for (int i = 0; i < 3; ++i) {
    auto activity = (*nvml)->Read();
    ASSERT_TRUE(activity.ok()) << activity.status();
    EXPECT_GE(activity->utilization, 0.0);
    EXPECT_LE(activity->utilization, 1.0);
    // Data-centre boards report power: some, and not far beyond the limit.
    EXPECT_GT(activity->power_watts, 1.0);
    EXPECT_GT(activity->power_limit_watts, 50.0);
    EXPECT_LT(activity->power_watts, 1.5 * activity->power_limit_watts);
  }
  EXPECT_EQ(Nvml::OpenForCudaDevice(99).status().code(), absl::StatusCode::kUnavailable);
}

TEST(NvmlTest, WithoutTheDriversLibraryOpeningNamesIt) {
  if (cuda::DeviceAvailable()) GTEST_SKIP() << "a device (and its driver's NVML) is present";
  auto nvml = Nvml::OpenForCudaDevice(0);
  ASSERT_FALSE(nvml.ok());
  EXPECT_EQ(nvml.status().code(), absl::StatusCode::kUnavailable);
  // No driver: the library is missing, or (a library without a GPU) init fails.
  const std::string message(nvml.status().message());
  EXPECT_TRUE(message.find("libnvidia-ml.so.1") != std::string::npos ||
              message.find("nvmlInit_v2") != std::string::npos)
      << message;
}

}  // namespace
}  // namespace convd
