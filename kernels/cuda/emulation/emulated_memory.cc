// The emulated device's memory (linked instead of libcudart, with
// emulated_runtime.cc): host memory, counted against a fixed capacity
// (kEmulatedDeviceMemoryBytes) so that a model too large for the device
// fails its load with cudaErrorMemoryAllocation as it would on a GPU, and
// cudaMemGetInfo reports what is in use. Every allocation is exactly the
// requested size, so a sanitizer sees a kernel's overrun. Device and
// page-locked host allocations are told apart, and freeing one through the
// other's call (or anything never allocated) is cudaErrorInvalidValue, as
// the runtime answers.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "kernels/cuda/emulation/emulated_device.h"
#include "kernels/cuda/emulation/emulated_runtime.h"

namespace convd::cuda::emulation {
namespace {

class Allocations {
 public:
  // Device memory: none is taken beyond the capacity.
  cudaError_t AllocateDevice(void** pointer, size_t bytes) {
    *pointer = nullptr;
    if (bytes == 0) return cudaSuccess;
    std::lock_guard<std::mutex> lock(mutex_);
    if (bytes > kEmulatedDeviceMemoryBytes - device_bytes_) return cudaErrorMemoryAllocation;
    if (posix_memalign(pointer, 256, bytes) != 0) return cudaErrorMemoryAllocation;
    device_.emplace(*pointer, bytes);
    device_bytes_ += bytes;
    return cudaSuccess;
  }

  cudaError_t FreeDevice(void* pointer) {
    if (pointer == nullptr) return cudaSuccess;
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = device_.find(pointer);
    if (found == device_.end()) return cudaErrorInvalidValue;
    device_bytes_ -= found->second;
    device_.erase(found);
    std::free(pointer);
    return cudaSuccess;
  }

  cudaError_t AllocateHost(void** pointer, size_t bytes) {
    *pointer = nullptr;
    if (bytes == 0) return cudaSuccess;
    if (posix_memalign(pointer, 256, bytes) != 0) return cudaErrorMemoryAllocation;
    std::lock_guard<std::mutex> lock(mutex_);
    host_.insert(*pointer);
    return cudaSuccess;
  }

  cudaError_t FreeHost(void* pointer) {
    if (pointer == nullptr) return cudaSuccess;
    std::lock_guard<std::mutex> lock(mutex_);
    if (host_.erase(pointer) == 0) return cudaErrorInvalidValue;
    std::free(pointer);
    return cudaSuccess;
  }

  size_t device_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return device_bytes_;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<void*, size_t> device_;  // guarded by mutex_
  size_t device_bytes_ = 0;                   // guarded by mutex_
  std::unordered_set<void*> host_;            // guarded by mutex_
};

Allocations& TheAllocations() {
  static auto* allocations = new Allocations;  // outlives static destructors' frees
  return *allocations;
}

}  // namespace
}  // namespace convd::cuda::emulation

using ::convd::cuda::emulation::ContextError;
using ::convd::cuda::emulation::Returned;
using ::convd::cuda::emulation::TheAllocations;

extern "C" {

cudaError_t CUDARTAPI cudaMalloc(void** pointer, size_t bytes) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  return Returned(TheAllocations().AllocateDevice(pointer, bytes));
}

// Frees release the memory even in a lost context, and then report it.
cudaError_t CUDARTAPI cudaFree(void* pointer) {
  const cudaError_t freed = TheAllocations().FreeDevice(pointer);
  return Returned(freed != cudaSuccess ? freed : ContextError());
}

cudaError_t CUDARTAPI cudaHostAlloc(void** pointer, size_t bytes, unsigned int flags) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  return Returned(TheAllocations().AllocateHost(pointer, bytes));
}

cudaError_t CUDARTAPI cudaMallocHost(void** pointer, size_t bytes) {
  return cudaHostAlloc(pointer, bytes, cudaHostAllocDefault);
}

cudaError_t CUDARTAPI cudaFreeHost(void* pointer) {
  const cudaError_t freed = TheAllocations().FreeHost(pointer);
  return Returned(freed != cudaSuccess ? freed : ContextError());
}

cudaError_t CUDARTAPI cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  const size_t used = TheAllocations().device_bytes();
  *free_bytes = ::convd::cuda::emulation::kEmulatedDeviceMemoryBytes - used;
  *total_bytes = ::convd::cuda::emulation::kEmulatedDeviceMemoryBytes;
  return cudaSuccess;
}

}  // extern "C"
