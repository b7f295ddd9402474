// Plain launchers for kernels/cuda/elementwise.cu. They return the CUDA
// error of the launch so nvcc never compiles Abseil; callers wrap them with
// CUDA_RETURN_IF_ERROR (cuda_check.h).
#ifndef CONVD_KERNELS_CUDA_ELEMENTWISE_LAUNCH_H_
#define CONVD_KERNELS_CUDA_ELEMENTWISE_LAUNCH_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/device_activation.h"

namespace convd::cuda {

// out[i] = act(in[i] + bias[(i / plane) % channels]) for i in [0, count);
// bias may be null.
cudaError_t LaunchBiasActivation(const float* in, const float* bias, int64_t count,
                                 int channels, int64_t plane,
                                 DeviceActivationFunction activation, float* out,
                                 cudaStream_t stream);

// out[i] = act(a[i] + b[i]); out may alias a or b.
cudaError_t LaunchAdd(const float* a, const float* b, int64_t count,
                      DeviceActivationFunction activation, float* out, cudaStream_t stream);

// out[i] = in[i] * scale[c] + shift[c], c = (i / plane) % channels (a batch
// norm left unfolded).
cudaError_t LaunchScaleShift(const float* in, int64_t count, int channels, int64_t plane,
                             const float* scale, const float* shift, float* out,
                             cudaStream_t stream);

// Whether device 0 can run this build's kernels: cudaSuccess once one of
// them (BiasActivationKernel) is loaded, as every .cu file is built for the
// same architectures (bazel/cuda.bzl); on a GPU older than those,
// cudaErrorNoKernelImageForDevice, as each launch would fail. The failure
// is an answer, so it is not left as the thread's last error.
cudaError_t LoadKernelImage();

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_ELEMENTWISE_LAUNCH_H_
