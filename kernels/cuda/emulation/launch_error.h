// The emulated runtime's sticky launch error, as cudaGetLastError and
// cudaPeekAtLastError report it (per calling thread, as in the runtime).
#ifndef CONVD_KERNELS_CUDA_EMULATION_LAUNCH_ERROR_H_
#define CONVD_KERNELS_CUDA_EMULATION_LAUNCH_ERROR_H_

#include <driver_types.h>

namespace convd::cuda::emulation {

void SetLaunchError(cudaError_t error);

}  // namespace convd::cuda::emulation

#endif  // CONVD_KERNELS_CUDA_EMULATION_LAUNCH_ERROR_H_
