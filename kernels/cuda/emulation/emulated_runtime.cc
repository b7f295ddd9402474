// The few CUDA runtime entry points the kernel tests and launchers call,
// implemented on host memory for the emulated builds (linked instead of
// libcudart): one "device" whose memory is the process's, copies that are
// memcpy, and the launch error the block scheduler sets. Allocations are
// exactly the requested size, so a sanitizer sees a kernel's overrun.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>

#include "kernels/cuda/emulation/emulated_device.h"
#include "kernels/cuda/emulation/launch_error.h"

namespace convd::cuda::emulation {
namespace {
thread_local cudaError_t last_error = cudaSuccess;

struct ErrorDescription {
  cudaError_t error;
  const char* name;
  const char* text;  // as the runtime's cudaGetErrorString words it
};

// The errors this runtime and our launchers return.
const ErrorDescription& Describe(cudaError_t error) {
  static constexpr ErrorDescription kKnown[] = {
      {cudaSuccess, "cudaSuccess", "no error"},
      {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
      {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
      {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration",
       "invalid configuration argument"},
      {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
  };
  static constexpr ErrorDescription kUnknown = {cudaErrorUnknown, "cudaError (emulated runtime)",
                                                "an error the emulated runtime does not name"};
  for (const ErrorDescription& known : kKnown) {
    if (known.error == error) return known;
  }
  return kUnknown;
}

}  // namespace

void SetLaunchError(cudaError_t error) { last_error = error; }

}  // namespace convd::cuda::emulation

using ::convd::cuda::emulation::last_error;

extern "C" {

cudaError_t CUDARTAPI cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaGetDeviceProperties(cudaDeviceProp* properties, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  std::memset(properties, 0, sizeof(*properties));
  std::strncpy(properties->name, ::convd::cuda::emulation::kEmulatedDeviceName,
               sizeof(properties->name) - 1);
  properties->major = 9;
  properties->minor = 0;
  properties->multiProcessorCount = 1;
  properties->maxThreadsPerBlock = 1024;
  properties->warpSize = 32;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaDriverGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaMalloc(void** pointer, size_t bytes) {
  *pointer = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (posix_memalign(pointer, 256, bytes) != 0) return cudaErrorMemoryAllocation;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaFree(void* pointer) {
  std::free(pointer);
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaMemcpy(void* to, const void* from, size_t bytes, cudaMemcpyKind kind) {
  if (bytes > 0 && (to == nullptr || from == nullptr)) return cudaErrorInvalidValue;
  if (bytes > 0) std::memmove(to, from, bytes);
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaGetLastError() {
  const cudaError_t error = last_error;
  last_error = cudaSuccess;
  return error;
}

cudaError_t CUDARTAPI cudaPeekAtLastError() { return last_error; }

const char* CUDARTAPI cudaGetErrorName(cudaError_t error) {
  return ::convd::cuda::emulation::Describe(error).name;
}

const char* CUDARTAPI cudaGetErrorString(cudaError_t error) {
  return ::convd::cuda::emulation::Describe(error).text;
}

}  // extern "C"
