// DeviceHealth on a device that works and then on one whose context a
// trapping kernel lost: errors of a working device pass through and take
// nothing down; after the fault, the probe records it once for everyone.
#include "server/cuda/device_health.h"

#include <cuda_runtime_api.h>

#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/fault_injection.h"

namespace convd {
namespace {

TEST(DeviceHealthTest, OnlyAProbeThatFailsRecordsAFaultAndThenEveryoneGetsIt) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
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

// A forward pass that does not come back (a hung device) makes the status
// UNAVAILABLE once it has run past the limit, so the server stops being
// live; if it does finish after all, the status is OK again. The pass here
// is the test's own wait: the watchdog is the same for any work.
TEST(DeviceHealthTest, ARunPastItsLimitReportsTheDeviceHungWhileItLasts) {
  DeviceHealth health;
  health.set_run_limit(std::chrono::milliseconds(1000));
  absl::Notification started, release;
  std::thread run([&] {
    EXPECT_TRUE(health
                    .GuardRun([&] {
                      started.Notify();
                      release.WaitForNotification();
                      return absl::OkStatus();
                    })
                    .ok());
  });
  started.WaitForNotification();
  EXPECT_TRUE(health.status().ok()) << "within its limit";
  absl::Status hung;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((hung = health.status()).ok() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(hung.code(), absl::StatusCode::kUnavailable) << hung;
  EXPECT_TRUE(absl::StrContains(hung.message(), "over its 1.0 s limit: the device may be hung"))
      << hung;
  release.Notify();
  run.join();
  EXPECT_TRUE(health.status().ok()) << "it finished: not hung after all";

  // Without a limit a run may take as long as it takes.
  health.set_run_limit(std::chrono::milliseconds(0));
  EXPECT_TRUE(health
                  .GuardRun([&] {
                    std::this_thread::sleep_for(std::chrono::milliseconds(30));
                    EXPECT_TRUE(health.status().ok());
                    return absl::OkStatus();
                  })
                  .ok());
}

}  // namespace
}  // namespace convd
