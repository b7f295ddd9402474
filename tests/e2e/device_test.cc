// convd's --device choice, as the binary reports it: cuda without a usable
// device is UNAVAILABLE naming why (this machine and CI have no GPU), an
// unknown device is refused, and auto falls back to the CPU; a GPU run
// timeout must be a sensible number of seconds, and the compute threads'
// polling time a sensible number of microseconds.
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

TEST(DeviceTest, CudaWithoutADeviceSaysWhyAndExits) {
  // A missing repository makes convd exit on a machine with a GPU too,
  // after the device was accepted.
  ToolResult result = RunTool({"server/convd", "--model-repository=/no/such/repository",
                               "--device=cuda", "--grpc-port=0", "--http-port=-1",
                               "--metrics-port=-1"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const bool no_device = absl::StrContains(result.err, "UNAVAILABLE: --device=cuda: ");
  const bool no_backend = absl::StrContains(result.err, "--device=cuda: this build has no GPU");
  const bool accepted = absl::StrContains(result.err, "is not a directory");
  EXPECT_TRUE(no_device || no_backend || accepted) << result.err;
}

TEST(DeviceTest, UnknownDeviceIsRefused) {
  ToolResult result = RunTool({"server/convd", "--model-repository=models", "--device=tpu"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_TRUE(absl::StrContains(result.err, "--device must be auto, cpu or cuda; got 'tpu'"))
      << result.err;
}

TEST(DeviceTest, ANegativeGpuRunTimeoutIsRefused) {
  ToolResult result = RunTool({"server/convd", "--model-repository=models", "--device=cpu",
                               "--gpu-run-timeout-seconds=-1"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(
      absl::StrContains(result.err, "--gpu-run-timeout-seconds must be in [0, 1e6); got -1"))
      << result.err;
}

TEST(DeviceTest, ANegativeComputeSpinIsRefused) {
  ToolResult result = RunTool({"server/convd", "--model-repository=models", "--device=cpu",
                               "--compute-spin-microseconds=-5"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(
      absl::StrContains(result.err, "--compute-spin-microseconds must be in [0, 1000000]; got -5"))
      << result.err;
}

}  // namespace
}  // namespace convd::e2e
