// The emulated runtime's one device: its name (cudaDeviceProp::name), by
// which tests tell the emulation from a GPU (DeviceIsEmulated), and its
// memory (emulated_memory.cc).
#ifndef CONVD_KERNELS_CUDA_EMULATION_EMULATED_DEVICE_H_
#define CONVD_KERNELS_CUDA_EMULATION_EMULATED_DEVICE_H_

#include <cstddef>

namespace convd::cuda::emulation {

inline constexpr char kEmulatedDeviceName[] = "convd CPU emulation of CUDA";

// Small enough that a test can fill it without exhausting a CI machine's
// memory, large enough for the kernels' tests and AlexNet's weights.
inline constexpr size_t kEmulatedDeviceMemoryBytes = size_t{2} << 30;

}  // namespace convd::cuda::emulation

#endif  // CONVD_KERNELS_CUDA_EMULATION_EMULATED_DEVICE_H_
