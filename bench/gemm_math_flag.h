// The GPU benchmarks' --math flag: which arithmetic our kernels and the
// peers both run in.
#ifndef CONVD_BENCH_GEMM_MATH_FLAG_H_
#define CONVD_BENCH_GEMM_MATH_FLAG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::bench {

// cuda::GemmMathFromName, with INVALID_ARGUMENT naming the choices.
inline absl::StatusOr<cuda::GemmMath> GemmMathFromFlag(const std::string& name) {
  if (const std::optional<cuda::GemmMath> math = cuda::GemmMathFromName(name)) return *math;
  return absl::InvalidArgumentError(
      absl::StrCat("--math must be ", cuda::kGemmMathChoices, "; got '", name, "'"));
}

}  // namespace convd::bench

#endif  // CONVD_BENCH_GEMM_MATH_FLAG_H_
