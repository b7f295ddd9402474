// What the emulated kernels' launches need from the emulated CUDA runtime
// (emulated_runtime.cc, linked instead of libcudart): the sticky launch
// error that cudaGetLastError reports, and stream ordering with capture.
#ifndef CONVD_KERNELS_CUDA_EMULATION_EMULATED_RUNTIME_H_
#define CONVD_KERNELS_CUDA_EMULATION_EMULATED_RUNTIME_H_

#include <driver_types.h>

#include <functional>

namespace convd::cuda::emulation {

// Sets the calling thread's launch error (per thread, as in the runtime).
void SetLaunchError(cudaError_t error);

// Work submitted to `stream`: run now, since every emulated stream is
// complete when its call returns, or kept for the graph when the stream is
// being captured (cudaStreamBeginCapture), to run at each cudaGraphLaunch.
void Enqueue(cudaStream_t stream, std::function<void()> work);

}  // namespace convd::cuda::emulation

#endif  // CONVD_KERNELS_CUDA_EMULATION_EMULATED_RUNTIME_H_
