// Bias + activation over an NCHW tensor: a grid-stride loop, one thread per
// element. The first CUDA kernel of the backend; the full set of kernels
// (convolution algorithms, pooling, LRN, ...) follows the same pattern:
// layout comment -> kernel -> launcher that checks its arguments.
#include "kernels/cuda/elementwise_launch.h"
#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/launch.cuh"

namespace convd::cuda {
namespace {

__global__ void BiasActivationKernel(const float* __restrict__ in, const float* __restrict__ bias,
                                     int64_t count, int channels, int64_t plane,
                                     DeviceActivationFunction activation, float* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float b = bias ? bias[(i / plane) % channels] : 0.0f;
    out[i] = DeviceActivate(in[i] + b, activation);
  }
}

__global__ void AddKernel(const float* __restrict__ a, const float* __restrict__ b, int64_t count,
                          DeviceActivationFunction activation, float* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = DeviceActivate(a[i] + b[i], activation);
  }
}

__global__ void ScaleShiftKernel(const float* __restrict__ in, int64_t count, int channels,
                                 int64_t plane, const float* __restrict__ scale,
                                 const float* __restrict__ shift, float* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int c = static_cast<int>((i / plane) % channels);
    out[i] = fmaf(in[i], scale[c], shift[c]);
  }
}

}  // namespace

cudaError_t LaunchAdd(const float* a, const float* b, int64_t count,
                      DeviceActivationFunction activation, float* out, cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  if (a == nullptr || b == nullptr || out == nullptr) return cudaErrorInvalidValue;
  CONVD_LAUNCH(GridBlocks(count), kThreadsPerBlock, stream, AddKernel, a, b, count, activation,
               out);
  return cudaGetLastError();
}

cudaError_t LaunchScaleShift(const float* in, int64_t count, int channels, int64_t plane,
                             const float* scale, const float* shift, float* out,
                             cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  if (in == nullptr || out == nullptr || scale == nullptr || shift == nullptr || channels <= 0 ||
      plane <= 0) {
    return cudaErrorInvalidValue;
  }
  CONVD_LAUNCH(GridBlocks(count), kThreadsPerBlock, stream, ScaleShiftKernel, in, count, channels,
               plane, scale, shift, out);
  return cudaGetLastError();
}

cudaError_t LaunchBiasActivation(const float* in, const float* bias, int64_t count, int channels,
                                 int64_t plane, DeviceActivationFunction activation, float* out,
                                 cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  const int type = static_cast<int>(activation.type);
  if (in == nullptr || out == nullptr || channels <= 0 || plane <= 0 || type < 0 ||
      type > static_cast<int>(DeviceActivation::kClip)) {
    return cudaErrorInvalidValue;
  }
  CONVD_LAUNCH(GridBlocks(count), kThreadsPerBlock, stream, BiasActivationKernel, in, bias, count,
               channels, plane, activation, out);
  return cudaGetLastError();
}

cudaError_t LoadKernelImage() {
  cudaFuncAttributes attributes;
  const cudaError_t error =
      cudaFuncGetAttributes(&attributes, reinterpret_cast<const void*>(BiasActivationKernel));
  if (error != cudaSuccess) cudaGetLastError();
  return error;
}

}  // namespace convd::cuda
