// What kernels/cuda/device.h says of the machine it runs on, in each of the
// three places the tests run: CI and developer machines without an NVIDIA
// driver, the host emulation of CUDA (the `_emulated` twin), and a GPU.
#include "kernels/cuda/device.h"

#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace convd::cuda {
namespace {

TEST(DeviceTest, DescriptionSaysWhatThereIs) {
  const std::string description = DeviceDescription();
  if (DeviceIsEmulated()) {
    EXPECT_TRUE(DeviceAvailable());
    EXPECT_TRUE(absl::StrContains(description, "emulation")) << description;
    EXPECT_TRUE(absl::EndsWith(description, "(sm_90)")) << description;
  } else if (!std::filesystem::exists(kNvidiaDriverVersion)) {
    // Not the runtime's "driver version is insufficient": there is none.
    EXPECT_FALSE(DeviceAvailable());
    EXPECT_EQ(description, kNoDriver);
  } else if (DeviceAvailable()) {
    EXPECT_TRUE(absl::StrContains(description, "(sm_")) << description;
    EXPECT_FALSE(absl::StrContains(description, "cannot run")) << description;
  } else {
    EXPECT_TRUE(absl::StartsWith(description, "no CUDA device") ||
                absl::StrContains(description, "cannot run"))
        << description;
  }
}

}  // namespace
}  // namespace convd::cuda
