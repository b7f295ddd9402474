// A kernel that traps loses the process's CUDA context, and ProbeDevice
// (device.h) tells so: what the server's fault handling
// (server/cuda/cuda_backend.cc) relies on. On a GPU this checks the CUDA
// documentation's word that the error is sticky; on the emulation, that the
// emulation behaves as documented.
#include <cuda_runtime_api.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/fault_injection.h"

namespace convd::cuda {
namespace {

TEST(DeviceFaultTest, ATrapLosesTheContextForEveryLaterCallAndTheProbeSaysSo) {
  if (!DeviceAvailable()) GTEST_SKIP() << "no CUDA device: " << DeviceDescription();
  ASSERT_TRUE(ProbeDevice().ok()) << ProbeDevice();
  void* before = nullptr;
  ASSERT_EQ(cudaMalloc(&before, 256), cudaSuccess);

  const cudaError_t trapped = TrapOnDevice();
  ASSERT_NE(trapped, cudaSuccess);
  if (DeviceIsEmulated()) {
    EXPECT_EQ(trapped, cudaErrorLaunchFailure);
  }
  std::printf("a trap on %s: %s\n", DeviceDescription().c_str(), cudaGetErrorName(trapped));

  const absl::Status probe = ProbeDevice();
  EXPECT_EQ(probe.code(), absl::StatusCode::kInternal) << probe;
  EXPECT_TRUE(absl::StrContains(probe.message(), cudaGetErrorName(trapped))) << probe;
  // Sticky: reading the error does not clear it, and every call that needs
  // the context fails with it, however unrelated.
  EXPECT_EQ(cudaGetLastError(), trapped);
  EXPECT_EQ(cudaGetLastError(), trapped);
  void* after = nullptr;
  EXPECT_EQ(cudaMalloc(&after, 256), trapped);
  size_t free_bytes = 0, total_bytes = 0;
  EXPECT_EQ(cudaMemGetInfo(&free_bytes, &total_bytes), trapped);
  float host = 0;
  EXPECT_EQ(cudaMemcpy(&host, before, sizeof(host), cudaMemcpyDeviceToHost), trapped);
  // What needs no context still answers: the server's health reports and
  // metrics still name the device.
  EXPECT_TRUE(DeviceAvailable());
  EXPECT_TRUE(absl::StrContains(DeviceDescription(), "(sm_")) << DeviceDescription();
  cudaFree(before);
}

}  // namespace
}  // namespace convd::cuda
