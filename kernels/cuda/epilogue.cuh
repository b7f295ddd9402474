// Device twin of kernels/epilogue_inl.h: y = act(y + bias + residual).
#ifndef CONVD_KERNELS_CUDA_EPILOGUE_CUH_
#define CONVD_KERNELS_CUDA_EPILOGUE_CUH_

namespace convd::cuda {

// Mirrors convd::Activation (kernels/op_params.h); the launcher converts.
enum class DeviceActivation : int { kNone = 0, kRelu, kSigmoid, kTanh, kLeakyRelu };

__device__ __forceinline__ float DeviceActivate(float x, DeviceActivation activation,
                                                float negative_slope) {
  switch (activation) {
    case DeviceActivation::kNone: return x;
    case DeviceActivation::kRelu: return fmaxf(x, 0.0f);
    case DeviceActivation::kSigmoid: return 1.0f / (1.0f + __expf(-x));
    case DeviceActivation::kTanh: return tanhf(x);
    case DeviceActivation::kLeakyRelu: return x > 0.0f ? x : x * negative_slope;
  }
  return x;
}

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_EPILOGUE_CUH_
