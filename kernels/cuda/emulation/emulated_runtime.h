// What the emulated kernels' launches need from the emulated CUDA runtime
// (emulated_runtime.cc, linked instead of libcudart): the last error
// that cudaGetLastError reports, the lost context a trap leaves, stream
// ordering with capture, and each kernel's dynamic shared memory limit.
#ifndef CONVD_KERNELS_CUDA_EMULATION_EMULATED_RUNTIME_H_
#define CONVD_KERNELS_CUDA_EMULATION_EMULATED_RUNTIME_H_

#include <driver_types.h>

#include <cstddef>
#include <functional>

namespace convd::cuda::emulation {

// Sets the calling thread's last error (per thread, as in the runtime), as
// a failed launch or runtime call leaves it: until something reads it
// (cudaGetLastError), the next launch check reports it as its own.
void SetLastError(cudaError_t error);

// `error`, returned by a runtime call; a failure is also left behind as
// the thread's last error (SetLastError).
cudaError_t Returned(cudaError_t error);

// A kernel's __trap(). On a GPU it aborts the kernel and loses the CUDA
// context: the launch's stream reports cudaErrorLaunchFailure, and so does
// every later call in the process (a "sticky" error: only a new process
// recovers). Here the calling thread goes on to the end of its kernel, and
// from then on every runtime call that needs the context, and every
// launch, fails with that error; a test of how the server survives a GPU
// fault makes one with a trapping kernel (kernels/cuda/fault_injection.h).
void Trap();

// cudaSuccess, or the error every call returns once a kernel trapped.
cudaError_t ContextError();

// Work submitted to `stream`: run now, since every emulated stream is
// complete when its call returns, or kept for the graph when the stream is
// being captured (cudaStreamBeginCapture), to run at each cudaGraphLaunch.
void Enqueue(cudaStream_t stream, std::function<void()> work);

// Whether a launch of `kernel` may ask for `bytes` of dynamic shared
// memory: up to 48 KB (kDefaultSharedMemoryPerBlock), or up to what its
// cudaFuncAttributeMaxDynamicSharedMemorySize was raised to. A launch
// asking for more fails with cudaErrorInvalidValue, as on the device.
bool DynamicSharedAllowed(const void* kernel, size_t bytes);

// Makes the device's opt-in limit (cudaDevAttrMaxSharedMemoryPerBlockOptin)
// `bytes`, as a smaller GPU's would be (an sm_120 card's 99 KB): from then
// on cudaFuncSetAttribute refuses a kernel more. For a test to call before
// its first launch; limits already raised stay.
void SetSharedMemoryPerBlockOptin(int bytes);

// Makes the device a GPU older than the architectures this build's kernels
// are compiled for (reported as sm_75, a T4's): from then on
// cudaFuncGetAttributes and every launch fail with
// cudaErrorNoKernelImageForDevice, as on such a GPU. For a test to call
// before its first CUDA call.
void EmulateDeviceWithoutKernelImage();

// False once EmulateDeviceWithoutKernelImage was called.
bool KernelImageLoads();

}  // namespace convd::cuda::emulation

// The first line of an emulated runtime entry point that needs the context.
#define CONVD_RETURN_IF_CONTEXT_LOST()                                                            \
  do {                                                                                            \
    if (const cudaError_t lost = ::convd::cuda::emulation::ContextError(); lost != cudaSuccess) { \
      return lost;                                                                                \
    }                                                                                             \
  } while (false)

#endif  // CONVD_KERNELS_CUDA_EMULATION_EMULATED_RUNTIME_H_
