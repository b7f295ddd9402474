// glibc malloc settings for a server that allocates and frees tensor-sized
// buffers on every request.
#ifndef CONVD_SERVER_MALLOC_TUNING_H_
#define CONVD_SERVER_MALLOC_TUNING_H_

namespace convd {

// Keeps freed buffers of up to 32 MiB in the process for the next request
// instead of returning them to the kernel. By default glibc maps blocks
// over its mmap threshold (128 KiB at first) afresh and trims freed memory
// at the top of a thread's heap, so a 600 KB image tensor lands on newly
// faulted pages on every request: 118-315 page faults per 224x224 FP32
// request measured in convd, ~0.5 ms of its CPU (bench/RESULTS.md).
// The cost is memory: up to 64 MiB free per malloc arena stays resident
// after a burst (the peak working set, not growth). Call first thing in
// main, before any thread starts; a no-op where the C library is not
// glibc.
void TuneMallocForTensors();

}  // namespace convd

#endif  // CONVD_SERVER_MALLOC_TUNING_H_
