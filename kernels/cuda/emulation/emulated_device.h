// The emulated runtime's one device: its name (cudaDeviceProp::name), by
// which tests tell the emulation from a GPU (DeviceIsEmulated), its memory
// (emulated_memory.cc) and its shared memory limits.
#ifndef CONVD_KERNELS_CUDA_EMULATION_EMULATED_DEVICE_H_
#define CONVD_KERNELS_CUDA_EMULATION_EMULATED_DEVICE_H_

#include <cstddef>

namespace convd::cuda::emulation {

inline constexpr char kEmulatedDeviceName[] = "convd CPU emulation of CUDA";

// Small enough that a test can fill it without exhausting a CI machine's
// memory, large enough for the kernels' tests and AlexNet's weights.
inline constexpr size_t kEmulatedDeviceMemoryBytes = size_t{2} << 30;

// SMs, as an H100 SXM's or an H200's, which launch heuristics read
// (cudaGetDeviceProperties, cudaDeviceGetAttribute).
inline constexpr int kEmulatedMultiprocessors = 132;

// Dynamic shared memory a block gets without opting in (every device's),
// and the most a kernel may opt in to (cudaDevAttrMaxSharedMemoryPerBlockOptin:
// an H100's 227 KB, until a test sets another device's;
// emulated_runtime.h).
inline constexpr int kDefaultSharedMemoryPerBlock = 48 << 10;
inline constexpr int kH100SharedMemoryPerBlockOptin = 227 << 10;

}  // namespace convd::cuda::emulation

#endif  // CONVD_KERNELS_CUDA_EMULATION_EMULATED_DEVICE_H_
