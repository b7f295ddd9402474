// Kernel launches, spelled once for nvcc and for the host-compiled
// emulation of the kernel tests (emulation/cuda_emulation.h):
//
//   CONVD_LAUNCH(grid, block, stream, kernel, arguments...);
//   CONVD_LAUNCH_SHARED(grid, block, shared_bytes, stream, kernel, arguments...);
//
// are kernel<<<grid, block, 0 or shared_bytes, stream>>>(arguments...)
// under nvcc. `kernel` is one macro argument: name a template with several
// arguments through a pointer first. Check cudaGetLastError() after it, as
// after any launch. A kernel launched with dynamic shared memory declares
// it, first thing, as
//
//   CONVD_DYNAMIC_SHARED(name, bytes);   // float* name, 16-byte aligned
//
// where `bytes` is what its launches pass (the emulation allocates it from
// there); above 48 KB the launcher must first raise the kernel's
// cudaFuncAttributeMaxDynamicSharedMemorySize, or the launch fails with
// cudaErrorInvalidValue (in the emulation too).
#ifndef CONVD_KERNELS_CUDA_LAUNCH_CUH_
#define CONVD_KERNELS_CUDA_LAUNCH_CUH_

#ifdef CONVD_CUDA_EMULATION
#define CONVD_LAUNCH(grid, block, stream, kernel, ...) \
  ::convd::cuda::emulation::Launch(kernel, grid, block, stream)(__VA_ARGS__)
#define CONVD_LAUNCH_SHARED(grid, block, shared_bytes, stream, kernel, ...) \
  ::convd::cuda::emulation::Launch(kernel, grid, block, stream, shared_bytes)(__VA_ARGS__)
#define CONVD_DYNAMIC_SHARED(name, bytes) \
  float* const name = static_cast<float*>(::convd::cuda::emulation::BlockDynamicShared(bytes))
#else
#define CONVD_LAUNCH(grid, block, stream, kernel, ...) \
  kernel<<<grid, block, 0, stream>>>(__VA_ARGS__)
#define CONVD_LAUNCH_SHARED(grid, block, shared_bytes, stream, kernel, ...) \
  kernel<<<grid, block, shared_bytes, stream>>>(__VA_ARGS__)
#define CONVD_DYNAMIC_SHARED(name, bytes)                       \
  extern __shared__ __align__(16) float4 convd_dynamic_shared[]; \
  float* const name = reinterpret_cast<float*>(convd_dynamic_shared)
#endif

#endif  // CONVD_KERNELS_CUDA_LAUNCH_CUH_
