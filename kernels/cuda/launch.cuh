// Kernel launches, spelled once for nvcc and for the host-compiled
// emulation of the kernel tests (emulation/cuda_emulation.h):
//
//   CONVD_LAUNCH(grid, block, stream, kernel, arguments...);
//
// is kernel<<<grid, block, 0, stream>>>(arguments...) under nvcc. `kernel`
// is one macro argument: name a template with several arguments through a
// pointer first. Check cudaGetLastError() after it, as after any launch.
#ifndef CONVD_KERNELS_CUDA_LAUNCH_CUH_
#define CONVD_KERNELS_CUDA_LAUNCH_CUH_

#ifdef CONVD_CUDA_EMULATION
#define CONVD_LAUNCH(grid, block, stream, kernel, ...) \
  ::convd::cuda::emulation::Launch(kernel, grid, block, stream)(__VA_ARGS__)
#else
#define CONVD_LAUNCH(grid, block, stream, kernel, ...) \
  kernel<<<grid, block, 0, stream>>>(__VA_ARGS__)
#endif

#endif  // CONVD_KERNELS_CUDA_LAUNCH_CUH_
