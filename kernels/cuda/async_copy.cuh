// cp.async, global memory to shared memory without a register in between,
// for the SGEMM kernels that keep several K steps in flight
// (sgemm_pipelined.cuh, sgemm_tensor.cuh); the emulated builds queue the
// copies per thread (emulation/block_scheduler.h). Internal to kernels/cuda.
//
// Each thread issues copies into its open group, closes it (CommitCopies)
// and later waits until at most n of its groups are in flight
// (WaitForCopies<n>); a barrier then makes every thread's landed copies
// visible to the block.
#ifndef CONVD_KERNELS_CUDA_ASYNC_COPY_CUH_
#define CONVD_KERNELS_CUDA_ASYNC_COPY_CUH_

namespace convd::cuda::sgemm {

// A place in shared memory as cp.async takes it: a 32-bit shared-window
// address on the device (converted once, outside the loop: the conversion
// reads the CTA's id), a pointer in the emulation.
#ifdef CONVD_CUDA_EMULATION
using SharedAddress = float*;
inline SharedAddress ToSharedAddress(float* p) { return p; }
inline SharedAddress AddFloats(SharedAddress address, int floats) { return address + floats; }
#else
using SharedAddress = unsigned;
__device__ __forceinline__ SharedAddress ToSharedAddress(float* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ SharedAddress AddFloats(SharedAddress address, int floats) {
  return address + floats * static_cast<int>(sizeof(float));
}
#endif

// cp.async of kBytes (4 or 16) from `source` to `destination`: the first
// `source_bytes` (0..kBytes) read from `source`, the rest zeros; `source`
// is not read when `source_bytes` is 0 but must still be a valid address.
// Both addresses aligned to kBytes.
template <int kBytes>
__device__ __forceinline__ void CopyToShared(SharedAddress destination, const float* source,
                                             int source_bytes) {
  static_assert(kBytes == 4 || kBytes == 16);
#ifdef CONVD_CUDA_EMULATION
  emulation::AsyncCopy(destination, source, kBytes, static_cast<unsigned>(source_bytes));
#else
  if constexpr (kBytes == 16) {
    // .cg: through L2 only, as a streamed tile wants.
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(destination), "l"(source),
                 "r"(source_bytes)
                 : "memory");
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(destination), "l"(source),
                 "r"(source_bytes)
                 : "memory");
  }
#endif
}

// The whole kBytes from `source`, or kBytes of zeros unless `live`.
template <int kBytes>
__device__ __forceinline__ void CopyToShared(SharedAddress destination, const float* source,
                                             bool live) {
  CopyToShared<kBytes>(destination, source, live ? kBytes : 0);
}

// Closes this thread's group of copies.
__device__ __forceinline__ void CommitCopies() {
#ifdef CONVD_CUDA_EMULATION
  emulation::AsyncCommit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most kPending of this thread's groups are in flight.
template <int kPending>
__device__ __forceinline__ void WaitForCopies() {
#ifdef CONVD_CUDA_EMULATION
  emulation::AsyncWait(kPending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
#endif
}

}  // namespace convd::cuda::sgemm

#endif  // CONVD_KERNELS_CUDA_ASYNC_COPY_CUH_
