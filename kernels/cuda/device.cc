#include "kernels/cuda/device.h"

#include <cuda_runtime.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/emulation/emulated_device.h"

namespace convd::cuda {

bool DeviceAvailable() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

bool DeviceIsEmulated() {
  cudaDeviceProp properties;
  return DeviceAvailable() && cudaGetDeviceProperties(&properties, 0) == cudaSuccess &&
         std::strcmp(properties.name, emulation::kEmulatedDeviceName) == 0;
}

std::string DeviceDescription() {
  int count = 0;
  if (const cudaError_t error = cudaGetDeviceCount(&count); error != cudaSuccess) {
    return absl::StrCat("no CUDA device: ", cudaGetErrorString(error));
  }
  if (count == 0) return "no CUDA device";
  cudaDeviceProp properties;
  if (cudaGetDeviceProperties(&properties, 0) != cudaSuccess) return "unknown CUDA device";
  return absl::StrCat(properties.name, " (sm_", properties.major, properties.minor, ")");
}

std::string DriverVersion() {
  int version = 0;
  if (cudaDriverGetVersion(&version) != cudaSuccess) return "unknown";
  return std::to_string(version);
}

}  // namespace convd::cuda
