// DeviceHealth on a device that works and then on one whose context a
// trapping kernel lost: errors of a working device pass through and take
// nothing down; after the fault, the probe records it once for everyone.
#include "server/cuda/device_health.h"

#include <cuda_runtime_api.h>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/fault_injection.h"

namespace convd {
namespace {

TEST(DeviceHealthTest, OnlyAProbeThatFailsRecordsAFaultAndThenEveryoneGetsIt) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << "no CUDA device: " << cuda::DeviceDescription();
  DeviceHealth health;
  EXPECT_TRUE(health.status().ok());
  // A working device: each failure is the run's own (a launch refused, a
  // bad request, a full device), and the next run may well succeed.
  const absl::Status launch = absl::InternalError("cudaErrorInvalidConfiguration");
  EXPECT_EQ(health.AfterFailure(launch), launch);
  EXPECT_EQ(health.AfterFailure(absl::InvalidArgumentError("bad rows")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(health.AfterFailure(absl::ResourceExhaustedError("out of memory")).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(health.AfterFailure(absl::OkStatus()).ok());
  EXPECT_EQ(health.Guard([&] { return launch; }), launch);
  EXPECT_TRUE(health.status().ok());

  const cudaError_t trapped = cuda::TrapOnDevice();
  ASSERT_NE(trapped, cudaSuccess);
  // Memory-short errors still say nothing of the context, and are not probed.
  EXPECT_EQ(health.AfterFailure(absl::ResourceExhaustedError("out of memory")).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(health.status().ok());

  const absl::Status met = health.AfterFailure(
      absl::InternalError(std::string("cudaStreamSynchronize: ") + cudaGetErrorName(trapped)));
  EXPECT_EQ(met.code(), absl::StatusCode::kUnavailable) << met;
  EXPECT_TRUE(absl::StrContains(met.message(), cuda::DeviceDescription())) << met;
  EXPECT_TRUE(absl::StrContains(met.message(), cudaGetErrorName(trapped))) << met;
  EXPECT_EQ(health.status(), met);
  // Later failures, whatever they say, get the first fault.
  EXPECT_EQ(health.AfterFailure(absl::InternalError("cudaMemcpyAsync: ...")), met);
  EXPECT_EQ(health.AfterFailure(absl::ResourceExhaustedError("out of memory")), met);
  // Guarded work no longer runs at all.
  bool ran = false;
  EXPECT_EQ(health.Guard([&] {
    ran = true;
    return absl::OkStatus();
  }),
            met);
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace convd
