// Test-only: makes the device fail the way a kernel bug would, so tests can
// check what the executor and the server do when a GPU's context is lost.
// Never linked into convd (kernels/cuda/BUILD limits who may depend on it).
#ifndef CONVD_KERNELS_CUDA_FAULT_INJECTION_H_
#define CONVD_KERNELS_CUDA_FAULT_INJECTION_H_

#include <cuda_runtime.h>

namespace convd::cuda {

// Runs a one-thread kernel that executes __trap() on a stream of its own
// and waits for it. Returns what the stream reports: an error that loses
// the context, cudaErrorLaunchFailure on the emulation (the CUDA
// documentation says of such errors that "any further CUDA work will
// return the same error"). After it, every CUDA call in this process
// fails: the rest of the calling test binary cannot use the device.
cudaError_t TrapOnDevice();

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_FAULT_INJECTION_H_
