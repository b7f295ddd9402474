#include "kernels/cuda/device.h"

#include <cuda_runtime.h>

#include <array>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/elementwise_launch.h"
#include "kernels/cuda/emulation/emulated_device.h"

namespace convd::cuda {

namespace {

// Whether device 0 runs this build's kernels (LoadKernelImage), asked once:
// a GPU does not change architecture, and a context lost later to a fault
// must not make a present device look absent (ProbeDevice reports that).
cudaError_t KernelImageError() {
  static const cudaError_t error = LoadKernelImage();
  return error;
}

}  // namespace

bool DeviceAvailable() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0 &&
         KernelImageError() == cudaSuccess;
}

bool DeviceIsEmulated() {
  cudaDeviceProp properties;
  return DeviceAvailable() && cudaGetDeviceProperties(&properties, 0) == cudaSuccess &&
         std::strcmp(properties.name, emulation::kEmulatedDeviceName) == 0;
}

std::string DeviceDescription() {
  int count = 0;
  if (const cudaError_t error = cudaGetDeviceCount(&count); error != cudaSuccess) {
    // Without NVIDIA's kernel driver the runtime says the driver is too old
    // for it, which reads as if there were one.
    if (error == cudaErrorInsufficientDriver && !std::filesystem::exists(kNvidiaDriverVersion)) {
      return kNoDriver;
    }
    return absl::StrCat("no CUDA device: ", cudaGetErrorString(error));
  }
  if (count == 0) return "no CUDA device";
  cudaDeviceProp properties;
  if (cudaGetDeviceProperties(&properties, 0) != cudaSuccess) return "unknown CUDA device";
  const std::string device =
      absl::StrCat(properties.name, " (sm_", properties.major, properties.minor, ")");
  if (const cudaError_t image = KernelImageError(); image != cudaSuccess) {
    return absl::StrCat(device, ": this build's CUDA kernels cannot run on it (",
                        cudaGetErrorString(image),
                        "); bazel/cuda.bzl lists the architectures they are built for");
  }
  return device;
}

std::string DriverVersion() {
  int version = 0;
  if (cudaDriverGetVersion(&version) != cudaSuccess) return "unknown";
  return std::to_string(version);
}

namespace {

// ReLU of four values on the device, read back into `out`.
absl::Status ProbeKernel(float* device, cudaStream_t stream, std::array<float, 4>& out) {
  const std::array<float, 4> in = {-2.0f, -0.25f, 0.5f, 3.0f};
  CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(device, in.data(), sizeof(in), cudaMemcpyHostToDevice, stream));
  const DeviceActivationFunction relu{DeviceActivation::kRelu};
  CUDA_RETURN_IF_ERROR(LaunchBiasActivation(device, /*bias=*/nullptr, in.size(), /*channels=*/1,
                                            /*plane=*/in.size(), relu, device, stream));
  CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(out.data(), device, sizeof(out), cudaMemcpyDeviceToHost, stream));
  CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
  return absl::OkStatus();
}

}  // namespace

absl::Status ProbeDevice() {
  cudaStream_t stream = nullptr;
  CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  float* device = nullptr;
  absl::Status status =
      CudaStatus(cudaMalloc(&device, 4 * sizeof(float)), "cudaMalloc", __FILE__, __LINE__);
  std::array<float, 4> out = {};
  if (status.ok()) status = ProbeKernel(device, stream, out);
  if (status.ok() && out != std::array<float, 4>{0.0f, 0.0f, 0.5f, 3.0f}) {
    status = absl::InternalError(absl::StrCat("the device probe computed ", out[0], " ", out[1],
                                              " ", out[2], " ", out[3], ", not 0 0 0.5 3"));
  }
  // In a lost context these fail too; the probe's first error is the one.
  cudaFree(device);
  cudaStreamDestroy(stream);
  return status;
}

}  // namespace convd::cuda
