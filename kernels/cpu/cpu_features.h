// What the CPU running convd offers beyond the build's baseline
// (-march=x86-64-v2). Kernels compiled more than once, for wider vectors,
// choose their build with this.
#ifndef CONVD_KERNELS_CPU_CPU_FEATURES_H_
#define CONVD_KERNELS_CPU_CPU_FEATURES_H_

#include <utility>

namespace convd::cpu {

// The builds of a kernel compiled more than once, narrowest first.
enum class CpuBuild {
  kBaseline,  // the build's baseline: SSE
  kAvx2,      // AVX2 + FMA + F16C (8 floats a register)
  kAvx512,    // AVX-512F (16 floats a register) + AVX2 + FMA + F16C
};

inline const char* CpuBuildName(CpuBuild build) {
  switch (build) {
    case CpuBuild::kBaseline:
      return "baseline";
    case CpuBuild::kAvx2:
      return "avx2";
    case CpuBuild::kAvx512:
      return "avx512";
  }
  return "?";
}

// Whether this CPU can run `build`.
inline bool CpuSupports(CpuBuild build) {
  // Every CPU with AVX2 has F16C (half-precision conversions) too.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  switch (build) {
    case CpuBuild::kBaseline:
      return true;
    case CpuBuild::kAvx2:
      return avx2;
    case CpuBuild::kAvx512:
      return avx2 && __builtin_cpu_supports("avx512f");
  }
  return false;
}

// The widest build this CPU runs.
inline CpuBuild WidestCpuBuild() {
  return CpuSupports(CpuBuild::kAvx512) ? CpuBuild::kAvx512
         : CpuSupports(CpuBuild::kAvx2) ? CpuBuild::kAvx2
                                        : CpuBuild::kBaseline;
}

// Calls whichever of `baseline`, `avx2` and `avx512` (one function per
// build of a kernel, each compiled with its own target attributes) `build`
// names, with `args`.
template <typename Function, typename... Args>
inline void CallBuild(CpuBuild build, Function* baseline, Function* avx2, Function* avx512,
                      Args&&... args) {
  switch (build) {
    case CpuBuild::kAvx512:
      return avx512(std::forward<Args>(args)...);
    case CpuBuild::kAvx2:
      return avx2(std::forward<Args>(args)...);
    case CpuBuild::kBaseline:
      return baseline(std::forward<Args>(args)...);
  }
}

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_CPU_FEATURES_H_
