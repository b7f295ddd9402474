// Whether a CUDA device can be used. Tests that need one skip cleanly
// (GTEST_SKIP) when this is false; the server falls back to the CPU.
#ifndef CONVD_KERNELS_CUDA_DEVICE_H_
#define CONVD_KERNELS_CUDA_DEVICE_H_

#include <string>

#include "kernels/cuda/device_activation.h"
#include "kernels/op_params.h"

namespace convd::cuda {

// The kernels' view of an activation (the enums share their order).
inline DeviceActivationFunction ToDeviceActivation(const ActivationFunction& f) {
  return {static_cast<DeviceActivation>(f.type), f.negative_slope, f.clip_min, f.clip_max};
}

// True when the runtime reports at least one device.
bool DeviceAvailable();

// "NVIDIA H100 80GB HBM3 (sm_90)", or why there is none.
std::string DeviceDescription();

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_DEVICE_H_
