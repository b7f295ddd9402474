// cuBLAS SGEMM as a peer to our SGEMM (kernels/cuda/sgemm_launch.h): the
// baseline in bench/gpu_conv_bench and a cross-check in the kernel tests.
// Never linked into the server (BUILD visibility). libcublas.so.13 is opened
// at run time (vendor_library.h).
//
// Same contract as LaunchSgemm without the epilogue: row-major
// C[b] = A[b] x B[b], A [m, k] (lda), B [k, n] (ldb), C [m, n] (ldc),
// batch strides in elements (0 shares a matrix).
#ifndef CONVD_KERNELS_CUDA_PEERS_CUBLAS_GEMM_H_
#define CONVD_KERNELS_CUDA_PEERS_CUBLAS_GEMM_H_

#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda {

// One cuBLAS handle bound to a stream. Not thread-safe.
class Cublas {
 public:
  // UNAVAILABLE when libcublas.so.13 cannot be opened or initialised.
  static absl::StatusOr<std::unique_ptr<Cublas>> Open(cudaStream_t stream);
  ~Cublas();

  // Enqueues the product (cublasSgemmStridedBatched). kFp32 keeps cuBLAS on
  // FP32 FMA (CUBLAS_DEFAULT_MATH, no TF32); kTf32 allows TF32; kFp16 runs
  // cublasGemmStridedBatchedEx(_64) with CUBLAS_COMPUTE_32F_FAST_16F (FP32 data
  // rounded to FP16 for the tensor cores, FP32 accumulation).
  absl::Status Sgemm(const GemmShape& shape, const float* a, const float* b, float* c,
                     GemmMath math);

  // "cuBLAS 13.1.0".
  std::string Version() const;

  struct Api;  // the functions taken from the library (cublas_gemm.cc)

 private:
  Cublas() = default;
  std::unique_ptr<Api> api_;
  void* handle_ = nullptr;  // cublasHandle_t
};

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_PEERS_CUBLAS_GEMM_H_
