// Bias + activation over an NCHW tensor: a grid-stride loop, one thread per
// element. The first CUDA kernel of the backend; the full set of kernels
// (convolution algorithms, pooling, LRN, ...) follows the same pattern:
// layout comment -> kernel -> launcher that checks its arguments.
#include "kernels/cuda/elementwise_launch.h"
#include "kernels/cuda/epilogue.cuh"

namespace convd::cuda {
namespace {

__global__ void BiasActivationKernel(const float* __restrict__ in,
                                     const float* __restrict__ bias, int64_t count,
                                     int channels, int64_t plane,
                                     DeviceActivationFunction activation,
                                     float* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float b = bias ? bias[(i / plane) % channels] : 0.0f;
    out[i] = DeviceActivate(in[i] + b, activation);
  }
}

}  // namespace

cudaError_t LaunchBiasActivation(const float* in, const float* bias, int64_t count,
                                 int channels, int64_t plane,
                                 DeviceActivationFunction activation, float* out,
                                 cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  const int type = static_cast<int>(activation.type);
  if (in == nullptr || out == nullptr || channels <= 0 || plane <= 0 || type < 0 ||
      type > static_cast<int>(DeviceActivation::kClip)) {
    return cudaErrorInvalidValue;
  }
  constexpr int kThreads = 256;
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  BiasActivationKernel<<<static_cast<unsigned>(blocks < 65535 * 8 ? blocks : 65535 * 8),
                         kThreads, 0, stream>>>(in, bias, count, channels, plane,
                                                activation, out);
  return cudaGetLastError();
}

}  // namespace convd::cuda
