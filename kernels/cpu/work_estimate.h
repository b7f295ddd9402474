// Single-thread rates for the work estimates that CPU kernels pass to
// ThreadPool::ParallelFor (work in nanoseconds). Rough on purpose: they only
// decide whether a loop is worth another thread's wake-up, and are set from
// this project's measurements on the 2-core VM (bench/RESULTS.md).
#ifndef CONVD_KERNELS_CPU_WORK_ESTIMATE_H_
#define CONVD_KERNELS_CPU_WORK_ESTIMATE_H_

#include <cstdint>

namespace convd::cpu {

// SGEMM (convd's own, packed_gemm.h, or OpenBLAS) at 40-120 GFLOP/s a core on
// convolution shapes ("GEMM library", "convd's own GEMM").
inline constexpr int64_t kGemmMacsPerNs = 20;
// Plain copies and fills (im2col rows).
inline constexpr int64_t kCopiedFloatsPerNs = 4;
// Scalar loops (pooling, element-wise ops): about one operation a
// nanosecond. exp and pow cost about 20.
inline constexpr int64_t kNsPerTranscendental = 20;

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_WORK_ESTIMATE_H_
