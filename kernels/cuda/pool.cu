// Pooling, LRN and softmax (pool_launch.h): one thread per output element,
// or per (image, position) for the channel reductions.
#include <algorithm>

#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/pool_launch.h"

namespace convd::cuda {
namespace {

__global__ void PoolKernel(const float* __restrict__ input, DevicePoolShape s,
                           float* __restrict__ output) {
  const int64_t total = int64_t{s.n} * s.c * s.p * s.q;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int ow = static_cast<int>(i % s.q);
    const int oh = static_cast<int>((i / s.q) % s.p);
    const int64_t nc = i / (int64_t{s.p} * s.q);
    const float* plane = input + nc * s.h * s.w;
    const int h0 = oh * s.stride_h - s.pad_top;
    const int w0 = ow * s.stride_w - s.pad_left;
    const int h_end = min(h0 + s.kernel_h, s.h), w_end = min(w0 + s.kernel_w, s.w);
    float best = -INFINITY;
    float sum = 0.0f;
    int count = 0;
    for (int ih = max(h0, 0); ih < h_end; ++ih) {
      for (int iw = max(w0, 0); iw < w_end; ++iw) {
        const float v = plane[int64_t{ih} * s.w + iw];
        best = fmaxf(best, v);
        sum += v;
        ++count;
      }
    }
    float result = best;
    if (!s.max) {
      const int pad_count = (min(h0 + s.kernel_h, s.h + s.pad_bottom) - h0) *
                            (min(w0 + s.kernel_w, s.w + s.pad_right) - w0);
      const int divisor = s.count_include_pad ? pad_count : count;
      result = divisor > 0 ? sum / divisor : 0.0f;
    }
    output[i] = result;
  }
}

__global__ void LrnKernel(int n, int c, int64_t plane, int size, float alpha, float beta, float k,
                          const float* __restrict__ input, float* __restrict__ output) {
  const int64_t total = int64_t{n} * c * plane;
  const int before = (size - 1) / 2, after = size / 2;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t position = i % plane;
    const int channel = static_cast<int>((i / plane) % c);
    const int64_t image = i / (plane * c);
    float sum = 0.0f;
    for (int j = max(0, channel - before); j <= min(c - 1, channel + after); ++j) {
      const float v = input[(image * c + j) * plane + position];
      sum = fmaf(v, v, sum);
    }
    output[i] = input[i] * powf(k + alpha / size * sum, -beta);
  }
}

__global__ void SoftmaxKernel(int n, int c, int64_t plane, bool log,
                              const float* __restrict__ input, float* __restrict__ output) {
  const int64_t total = int64_t{n} * plane;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t position = i % plane;
    const int64_t base = (i / plane) * c * plane + position;
    float max_value = -INFINITY;
    for (int ch = 0; ch < c; ++ch) max_value = fmaxf(max_value, input[base + ch * plane]);
    float sum = 0.0f;
    for (int ch = 0; ch < c; ++ch) sum += expf(input[base + ch * plane] - max_value);
    const float log_sum = logf(sum);
    for (int ch = 0; ch < c; ++ch) {
      const float shifted = input[base + ch * plane] - max_value;
      output[base + ch * plane] = log ? shifted - log_sum : expf(shifted) / sum;
    }
  }
}

}  // namespace

cudaError_t LaunchPool(const DevicePoolShape& s, const float* input, float* output,
                       cudaStream_t stream) {
  if (s.n <= 0 || s.c <= 0 || s.h <= 0 || s.w <= 0 || s.kernel_h <= 0 || s.kernel_w <= 0 ||
      s.stride_h <= 0 || s.stride_w <= 0 || s.p <= 0 || s.q <= 0 || input == nullptr ||
      output == nullptr) {
    return cudaErrorInvalidValue;
  }
  CONVD_LAUNCH(GridBlocks(int64_t{s.n} * s.c * s.p * s.q), kThreadsPerBlock, stream, PoolKernel,
               input, s, output);
  return cudaGetLastError();
}

cudaError_t LaunchLrn(int n, int c, int64_t plane, int size, float alpha, float beta, float k,
                      const float* input, float* output, cudaStream_t stream) {
  if (n <= 0 || c <= 0 || plane <= 0 || size <= 0 || input == nullptr || output == nullptr) {
    return cudaErrorInvalidValue;
  }
  CONVD_LAUNCH(GridBlocks(int64_t{n} * c * plane), kThreadsPerBlock, stream, LrnKernel, n, c, plane,
               size, alpha, beta, k, input, output);
  return cudaGetLastError();
}

cudaError_t LaunchSoftmax(int n, int c, int64_t plane, bool log, const float* input, float* output,
                          cudaStream_t stream) {
  if (n <= 0 || c <= 0 || plane <= 0 || input == nullptr || output == nullptr) {
    return cudaErrorInvalidValue;
  }
  CONVD_LAUNCH(GridBlocks(int64_t{n} * plane), kThreadsPerBlock, stream, SoftmaxKernel, n, c, plane,
               log, input, output);
  return cudaGetLastError();
}

}  // namespace convd::cuda
