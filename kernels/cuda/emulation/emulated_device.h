// The name the emulated runtime gives its one device (cudaDeviceProp::name),
// by which tests tell the emulation from a GPU (DeviceIsEmulated).
#ifndef CONVD_KERNELS_CUDA_EMULATION_EMULATED_DEVICE_H_
#define CONVD_KERNELS_CUDA_EMULATION_EMULATED_DEVICE_H_

namespace convd::cuda::emulation {

inline constexpr char kEmulatedDeviceName[] = "convd CPU emulation of CUDA";

}  // namespace convd::cuda::emulation

#endif  // CONVD_KERNELS_CUDA_EMULATION_EMULATED_DEVICE_H_
