// Whether a CUDA device can be used. Tests that need one skip cleanly
// (GTEST_SKIP) when this is false; the server falls back to the CPU.
#ifndef CONVD_KERNELS_CUDA_DEVICE_H_
#define CONVD_KERNELS_CUDA_DEVICE_H_

#include <string>

namespace convd::cuda {

// True when the runtime reports at least one device.
bool DeviceAvailable();

// "NVIDIA H100 80GB HBM3 (sm_90)", or why there is none.
std::string DeviceDescription();

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_DEVICE_H_
