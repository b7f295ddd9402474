// The emulated device's memory: counted against its capacity, reported by
// cudaMemGetInfo, and device and host allocations kept apart, as the
// runtime does (the GPU serving test's out-of-memory case relies on it).
#include <cuda_runtime_api.h>

#include "gtest/gtest.h"
#include "kernels/cuda/emulation/emulated_device.h"

namespace convd::cuda::emulation {
namespace {

size_t FreeBytes() {
  size_t free_bytes = 0, total_bytes = 0;
  EXPECT_EQ(cudaMemGetInfo(&free_bytes, &total_bytes), cudaSuccess);
  EXPECT_EQ(total_bytes, kEmulatedDeviceMemoryBytes);
  return free_bytes;
}

TEST(EmulatedMemoryTest, DeviceAllocationsCountAgainstTheCapacity) {
  const size_t free_at_start = FreeBytes();
  void* block = nullptr;
  ASSERT_EQ(cudaMalloc(&block, 1000), cudaSuccess);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(FreeBytes(), free_at_start - 1000);

  void* too_large = nullptr;
  EXPECT_EQ(cudaMalloc(&too_large, free_at_start - 999), cudaErrorMemoryAllocation);
  EXPECT_EQ(too_large, nullptr);
  // As the runtime does, the failure stays behind as the thread's last error
  // until read.
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(FreeBytes(), free_at_start - 1000);

  ASSERT_EQ(cudaFree(block), cudaSuccess);
  EXPECT_EQ(FreeBytes(), free_at_start);
  EXPECT_EQ(cudaFree(nullptr), cudaSuccess);
}

TEST(EmulatedMemoryTest, PinnedHostMemoryIsNotDeviceMemory) {
  const size_t free_at_start = FreeBytes();
  void* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(&pinned, 4096), cudaSuccess);
  EXPECT_EQ(FreeBytes(), free_at_start);
  EXPECT_EQ(cudaFree(pinned), cudaErrorInvalidValue);  // not a device allocation
  EXPECT_EQ(cudaFreeHost(pinned), cudaSuccess);

  void* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, 64), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(device), cudaErrorInvalidValue);
  EXPECT_EQ(cudaFree(device), cudaSuccess);
  EXPECT_EQ(cudaFree(device), cudaErrorInvalidValue);  // twice
}

}  // namespace
}  // namespace convd::cuda::emulation
