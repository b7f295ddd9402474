// The GPU benchmarks' --math flag: which arithmetic our kernels and the
// peers both run in.
#ifndef CONVD_BENCH_GEMM_MATH_FLAG_H_
#define CONVD_BENCH_GEMM_MATH_FLAG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::bench {

// "fp32" or "tf32"; INVALID_ARGUMENT for anything else.
inline absl::StatusOr<cuda::GemmMath> GemmMathFromName(const std::string& name) {
  if (name == "fp32") return cuda::GemmMath::kFp32;
  if (name == "tf32") return cuda::GemmMath::kTf32;
  return absl::InvalidArgumentError(absl::StrCat("math must be fp32 or tf32; got '", name, "'"));
}

// "FP32" or "TF32", for the tables.
inline const char* GemmMathName(cuda::GemmMath math) {
  return math == cuda::GemmMath::kFp32 ? "FP32" : "TF32";
}

}  // namespace convd::bench

#endif  // CONVD_BENCH_GEMM_MATH_FLAG_H_
