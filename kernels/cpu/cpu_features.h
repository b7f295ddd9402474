// What the CPU running convd offers beyond the build's baseline
// (-march=x86-64-v2): kernels built twice choose their AVX2 + FMA build
// with this.
#ifndef CONVD_KERNELS_CPU_CPU_FEATURES_H_
#define CONVD_KERNELS_CPU_CPU_FEATURES_H_

namespace convd::cpu {

inline bool CpuHasAvx2AndFma() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_CPU_FEATURES_H_
