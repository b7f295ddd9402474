// Device twin of kernels/epilogue_inl.h: y = act(y + bias + residual).
#ifndef CONVD_KERNELS_CUDA_EPILOGUE_CUH_
#define CONVD_KERNELS_CUDA_EPILOGUE_CUH_

#include "kernels/cuda/device_activation.h"

namespace convd::cuda {

__device__ __forceinline__ float DeviceActivate(float x, const DeviceActivationFunction& f) {
  switch (f.type) {
    case DeviceActivation::kNone: return x;
    case DeviceActivation::kRelu: return fmaxf(x, 0.0f);
    case DeviceActivation::kSigmoid: return 1.0f / (1.0f + __expf(-x));
    case DeviceActivation::kTanh: return tanhf(x);
    case DeviceActivation::kLeakyRelu: return x > 0.0f ? x : x * f.negative_slope;
    // Comparisons, not fminf/fmaxf, so NaN stays NaN as on the CPU; max wins
    // when min > max (ONNX).
    case DeviceActivation::kClip: {
      const float low = x < f.clip_min ? f.clip_min : x;
      return f.clip_max < low ? f.clip_max : low;
    }
  }
  return x;
}

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_EPILOGUE_CUH_
