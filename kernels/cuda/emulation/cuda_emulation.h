// Lets the host compiler build our .cu kernel files unchanged apart from
// their launches (kernels/cuda/launch.cuh) and inline PTX (sgemm.cu), so
// the kernel tests run without a GPU: force-included (-include) ahead of a
// .cu file compiled as C++ with CONVD_CUDA_EMULATION defined (the
// `_emulated` twins that bazel/cuda.bzl makes of every cuda_library).
//
// It maps CUDA C++'s execution-space keywords away, gives kernels the
// built-in variables and __syncthreads of block_scheduler.h, makes
// __shared__ variables per-OS-thread statics (the scheduler runs one block
// at a time on a thread, so a block's threads share them), and provides the
// few device functions our kernels call that the CUDA headers declare for
// device code only. Launches run on the calling thread, before the launch
// returns (or when a captured graph is launched).
#ifndef CONVD_KERNELS_CUDA_EMULATION_CUDA_EMULATION_H_
#define CONVD_KERNELS_CUDA_EMULATION_CUDA_EMULATION_H_

#ifndef CONVD_CUDA_EMULATION
#error "cuda_emulation.h is for builds with CONVD_CUDA_EMULATION defined"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <memory>
#include <tuple>
#include <type_traits>

#include "kernels/cuda/emulation/block_scheduler.h"
#include "kernels/cuda/emulation/emulated_runtime.h"
#include "kernels/cuda/emulation/warp_emulation.h"

#undef __shared__
#define __shared__ static thread_local
#undef __launch_bounds__
#define __launch_bounds__(...)

#define threadIdx (::convd::cuda::emulation::ThreadIndex())
#define blockIdx (::convd::cuda::emulation::BlockIndex())
#define blockDim (::convd::cuda::emulation::BlockDim())
#define gridDim (::convd::cuda::emulation::GridDim())

// fmaf as the device computes it (one rounding), from a double: the
// product of two floats is exact in a double, so only a sum that lands
// exactly between two floats after its own rounding can differ (by one
// ulp). The library fmaf is a software routine on CPUs built without FMA
// (-march=x86-64-v2), and it made the emulated SGEMM tests 5x slower.
#define fmaf(a, b, c) ::convd::cuda::emulation::FusedMultiplyAdd(a, b, c)
namespace convd::cuda::emulation {
inline float FusedMultiplyAdd(float a, float b, float c) {
  return static_cast<float>(double{a} * double{b} + double{c});
}
}  // namespace convd::cuda::emulation

inline void __syncthreads() { ::convd::cuda::emulation::Barrier(); }
inline void __trap() { ::convd::cuda::emulation::Trap(); }
template <typename T>
inline T __ldg(const T* p) {
  return *p;
}
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline float __expf(float x) { return std::exp(x); }
// CUDA's integer min/max overloads (device code calls them unqualified).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }

namespace convd::cuda::emulation {

// kernel<<<grid, block, shared_bytes, stream>>>(args...) as
// Launch(kernel, grid, block, stream, shared_bytes)(args...): the arguments
// are converted to the kernel's parameter types once, as a launch copies
// them, and every thread gets its own copy (kernels may modify their
// parameters). A device without the kernels' image (KernelImageLoads), an
// invalid configuration, more dynamic shared memory than the kernel may
// have (DynamicSharedAllowed), or a context lost to an earlier trap sets
// the launch error (cudaGetLastError) and runs nothing,
// as on the device; a valid one runs now, or at each replay when the
// stream is being captured into a graph.
template <typename... Params>
auto Launch(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream,
            size_t shared_bytes = 0) {
  return [=](auto&&... args) {
    if (const cudaError_t lost = ContextError(); lost != cudaSuccess) {
      SetLastError(lost);
      return;
    }
    if (!KernelImageLoads()) {
      SetLastError(cudaErrorNoKernelImageForDevice);
      return;
    }
    if (!ValidConfiguration(grid, block)) return;
    if (!DynamicSharedAllowed(reinterpret_cast<const void*>(kernel), shared_bytes)) {
      SetLastError(cudaErrorInvalidValue);
      return;
    }
    struct Call {
      void (*kernel)(Params...);
      std::tuple<std::decay_t<Params>...> arguments;
    };
    auto call = std::make_shared<Call>(Call{kernel, {std::forward<decltype(args)>(args)...}});
    Enqueue(stream, [call, grid, block] {
      RunGrid(
          grid, block,
          [](void* context) {
            Call& c = *static_cast<Call*>(context);
            std::apply(c.kernel, c.arguments);
          },
          call.get());
    });
  };
}

}  // namespace convd::cuda::emulation

#endif  // CONVD_KERNELS_CUDA_EMULATION_CUDA_EMULATION_H_
