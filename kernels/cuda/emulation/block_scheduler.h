// Runs a CUDA kernel's grid on the calling CPU thread, for the emulated
// kernel tests (cuda_emulation.h): blocks one after another, the threads
// of a block as fibers on this thread, each switched out only at a barrier
// (__syncthreads, or an emulated warp-wide instruction), so a block's
// phases run in order: every thread reaches barrier i before any thread
// passes it. Threads run in index order in even blocks and in reverse order
// in odd ones, so a missing barrier shows up whichever side of it the
// reader and the writer are on.
//
// What this checks: indexing, tiling, edge handling, barrier placement and
// the warp-level fragment layouts. What it cannot: timing, the memory
// model beyond barriers, bank conflicts, register limits, or anything the
// hardware does differently from the PTX ISA's description. Kernels still
// need their tests on a GPU.
#ifndef CONVD_KERNELS_CUDA_EMULATION_BLOCK_SCHEDULER_H_
#define CONVD_KERNELS_CUDA_EMULATION_BLOCK_SCHEDULER_H_

#include <vector_types.h>

namespace convd::cuda::emulation {

// The running thread's built-in variables (valid inside a kernel only).
const uint3& ThreadIndex();
const uint3& BlockIndex();
const dim3& BlockDim();
const dim3& GridDim();
// blockDim-linear index of the running thread (x fastest).
unsigned LinearThreadIndex();

// Suspends the running thread until every thread of its block has reached
// its next barrier (or finished).
void Barrier();

// False, with the launch error set to cudaErrorInvalidConfiguration, for
// a configuration the hardware refuses: more than 1024 threads a block,
// block z over 64, grid y or z over 65535, a zero dimension.
bool ValidConfiguration(dim3 grid, dim3 block);

// Runs body(context) as every thread of every block of `grid` x `block`
// (a valid configuration).
void RunGrid(dim3 grid, dim3 block, void (*body)(void*), void* context);

// cp.async: a copy of `bytes` into shared memory, the first `source_bytes`
// from `source` and the rest zeros (the instruction's zero fill; `source`
// is not read when `source_bytes` is 0), in the running thread's open
// group. Both addresses must be aligned to `bytes`, as the instruction
// requires: a misaligned copy traps (Trap), and copies nothing. AsyncCommit closes the group;
// AsyncWait(n) completes the thread's oldest groups until at most n are in flight. In even blocks a
// copy lands when issued, in odd ones only when waited for: a kernel that overwrites a stage other
// threads still read, or reads one it has not waited for, gets wrong results in one or the other.
void AsyncCopy(void* destination, const void* source, unsigned bytes, unsigned source_bytes);
void AsyncCommit();
void AsyncWait(unsigned pending);

// Scratch memory shared by the threads of the running block, `bytes` long
// and zeroed when a block starts: warp-level instruction emulation
// (warp_emulation.h) exchanges fragments through it.
void* BlockScratch(unsigned bytes);

// The running block's dynamic shared memory (a launch's third <<<>>>
// argument; launch.cuh, CONVD_DYNAMIC_SHARED), `bytes` long, 16-byte
// aligned. It starts every block holding NaN in every float, as the
// device's holds whatever the last block left: a kernel that reads it
// before writing it gets NaN.
void* BlockDynamicShared(unsigned bytes);

}  // namespace convd::cuda::emulation

#endif  // CONVD_KERNELS_CUDA_EMULATION_BLOCK_SCHEDULER_H_
