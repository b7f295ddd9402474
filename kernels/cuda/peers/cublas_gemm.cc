#include "kernels/cuda/peers/cublas_gemm.h"

#include <cublas_v2.h>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/peers/vendor_library.h"

namespace convd::cuda {

#define CONVD_CUBLAS_FUNCTIONS(X) \
  X(cublasCreate_v2)              \
  X(cublasDestroy_v2)             \
  X(cublasSetStream_v2)           \
  X(cublasSetMathMode)            \
  X(cublasGetVersion_v2)          \
  X(cublasSgemmStridedBatched)   \
  X(cublasGemmStridedBatchedEx_64)

struct Cublas::Api {
  VendorLibrary library;
#define CONVD_DECLARE(name) decltype(::name)* name = nullptr;
  CONVD_CUBLAS_FUNCTIONS(CONVD_DECLARE)
#undef CONVD_DECLARE
};

namespace {

absl::Status CublasError(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": cublasStatus_t ", static_cast<int>(status));
  if (status == CUBLAS_STATUS_INVALID_VALUE || status == CUBLAS_STATUS_NOT_SUPPORTED) {
    return absl::InvalidArgumentError(message);
  }
  if (status == CUBLAS_STATUS_ALLOC_FAILED) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Cublas>> Cublas::Open(cudaStream_t stream) {
  absl::StatusOr<VendorLibrary> library =
      VendorLibrary::Open({"libcublas.so.13", "libcublas.so.12", "libcublas.so"});
  if (!library.ok()) return library.status();
  auto api = std::make_unique<Api>(Api{std::move(*library)});
  CONVD_CUBLAS_FUNCTIONS(CONVD_RESOLVE_VENDOR_FUNCTION)
  std::unique_ptr<Cublas> cublas(new Cublas());
  cublasHandle_t handle = nullptr;
  if (const cublasStatus_t status = api->cublasCreate_v2(&handle);
      status != CUBLAS_STATUS_SUCCESS) {
    return absl::UnavailableError(
        absl::StrCat("cublasCreate: cublasStatus_t ", static_cast<int>(status)));
  }
  cublas->handle_ = handle;
  cublas->api_ = std::move(api);
  if (absl::Status s = CublasError(cublas->api_->cublasSetStream_v2(handle, stream),
                                   "cublasSetStream");
      !s.ok()) {
    return s;
  }
  return cublas;
}

Cublas::~Cublas() {
  if (handle_ != nullptr) api_->cublasDestroy_v2(static_cast<cublasHandle_t>(handle_));
}

std::string Cublas::Version() const {
  int version = 0;
  api_->cublasGetVersion_v2(static_cast<cublasHandle_t>(handle_), &version);
  // cuBLAS 12+: major * 10000 + minor * 100 + patch.
  return absl::StrCat("cuBLAS ", version / 10000, ".", version / 100 % 100, ".", version % 100);
}

absl::Status Cublas::Sgemm(const GemmShape& shape, const float* a, const float* b, float* c,
                           GemmMath math) {
  auto handle = static_cast<cublasHandle_t>(handle_);
  if (absl::Status s = CublasError(
          api_->cublasSetMathMode(handle, math == GemmMath::kTf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                  : CUBLAS_DEFAULT_MATH),
          "cublasSetMathMode");
      !s.ok()) {
    return s;
  }
  // Row-major C = A B is column-major C^T = B^T A^T: swap the operands.
  const float alpha = 1.0f, beta = 0.0f;
  if (math == GemmMath::kFp16) {
    // FP32 data, FP16 tensor cores, FP32 accumulation: what our kFp16 does.
    // (The _64 entry point: the plain name is overloaded in C++.)
    return CublasError(
        api_->cublasGemmStridedBatchedEx_64(
            handle, CUBLAS_OP_N, CUBLAS_OP_N, shape.n, shape.m, shape.k, &alpha, b, CUDA_R_32F,
            static_cast<int>(shape.ldb), shape.stride_b, a, CUDA_R_32F,
            static_cast<int>(shape.lda), shape.stride_a, &beta, c, CUDA_R_32F,
            static_cast<int>(shape.ldc), shape.stride_c, shape.batch,
            CUBLAS_COMPUTE_32F_FAST_16F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmStridedBatchedEx");
  }
  return CublasError(
      api_->cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, shape.n, shape.m,
                                      shape.k, &alpha, b, static_cast<int>(shape.ldb),
                                      shape.stride_b, a, static_cast<int>(shape.lda),
                                      shape.stride_a, &beta, c, static_cast<int>(shape.ldc),
                                      shape.stride_c, shape.batch),
      "cublasSgemmStridedBatched");
}

}  // namespace convd::cuda
