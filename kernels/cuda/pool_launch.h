// Pooling, local response normalisation and softmax on the GPU; each
// matches its float64 reference in kernels/reference (same windows, same
// divisors, same channel ranges). NCHW, device pointers.
#ifndef CONVD_KERNELS_CUDA_POOL_LAUNCH_H_
#define CONVD_KERNELS_CUDA_POOL_LAUNCH_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/device_params.h"

namespace convd::cuda {

// Max or average over each window; an average divides by the window clipped
// to input + padding when count_include_pad, else by the cells inside the
// input (0 when none).
cudaError_t LaunchPool(const DevicePoolShape& shape, const float* input, float* output,
                       cudaStream_t stream);

// out = in / (k + alpha / size * sum of squares over `size` channels)^beta,
// the channel window [c - (size-1)/2, c + size/2] clipped to [0, C).
cudaError_t LaunchLrn(int n, int c, int64_t plane, int size, float alpha, float beta, float k,
                      const float* input, float* output, cudaStream_t stream);

// Softmax (or log-softmax) over the channels of [N, C, plane], per (n, i),
// max-shifted for range.
cudaError_t LaunchSoftmax(int n, int c, int64_t plane, bool log, const float* input,
                          float* output, cudaStream_t stream);

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_POOL_LAUNCH_H_
