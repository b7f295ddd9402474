// The activation as device code sees it: a plain struct nvcc and the host
// compiler both read (no Abseil), passed by value to kernels. Mirrors
// convd::ActivationFunction (kernels/op_params.h); ToDeviceActivation in
// kernels/cuda/device.h converts.
#ifndef CONVD_KERNELS_CUDA_DEVICE_ACTIVATION_H_
#define CONVD_KERNELS_CUDA_DEVICE_ACTIVATION_H_

namespace convd::cuda {

// Same order as convd::Activation.
enum class DeviceActivation : int { kNone = 0, kRelu, kSigmoid, kTanh, kLeakyRelu, kClip };

struct DeviceActivationFunction {
  DeviceActivation type = DeviceActivation::kNone;
  float negative_slope = 0.01f;
  float clip_min = 0.0f, clip_max = 6.0f;
};

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_DEVICE_ACTIVATION_H_
