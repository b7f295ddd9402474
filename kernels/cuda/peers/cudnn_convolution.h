// cuDNN's forward convolution as a peer: the baseline bench/gpu_conv_bench
// measures our kernels against, and a cross-check in the kernel tests.
// Never linked into the server (BUILD visibility). libcudnn.so.9 is opened
// at run time (vendor_library.h), so this builds without it installed.
//
//   ASSIGN_OR_RETURN(auto cudnn, Cudnn::Open(stream));
//   ASSIGN_OR_RETURN(auto conv, cudnn->Convolution(shape, GemmMath::kFp32));
//   ASSIGN_OR_RETURN(auto ranked, conv->Find(x, w, y, workspace, bytes));
//   conv->Run(ranked[0].algorithm, x, w, y, workspace, bytes);
//
// Data: NCHW float input [N, C, H, W], filters [K, C/groups, R, S], output
// [N, K, P, Q], device pointers; no bias or activation (a plain
// convolution, which is what both sides are timed on).
#ifndef CONVD_KERNELS_CUDA_PEERS_CUDNN_CONVOLUTION_H_
#define CONVD_KERNELS_CUDA_PEERS_CUDNN_CONVOLUTION_H_

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cuda/device_params.h"
#include "kernels/cuda/sgemm_launch.h"

namespace convd::cuda {

// The peers run in the math our kernels run in (sgemm_launch.h): kFp32 is
// FP32 FMA only (CUDNN_FMA_MATH, CUBLAS_DEFAULT_MATH: no TF32), kTf32 allows
// TF32 tensor cores (CUDNN_TENSOR_OP_MATH, CUBLAS_TF32_TENSOR_OP_MATH),
// kFp16 also allows rounding the FP32 data to FP16 for them
// (CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, CUBLAS_COMPUTE_32F_FAST_16F).
struct CudnnAlgorithmTime {
  int algorithm = 0;           // cudnnConvolutionFwdAlgo_t
  std::string name;            // "IMPLICIT_PRECOMP_GEMM", "WINOGRAD_NONFUSED", ...
  float milliseconds = 0;      // cuDNN's own timing during Find
  int64_t workspace_bytes = 0;
};

class CudnnConvolution;

// One cuDNN handle bound to a stream. Not thread-safe.
class Cudnn {
 public:
  // UNAVAILABLE when libcudnn.so.9 cannot be opened or has no handle for
  // the current device.
  static absl::StatusOr<std::unique_ptr<Cudnn>> Open(cudaStream_t stream);
  ~Cudnn();

  // Descriptors for one shape. INVALID_ARGUMENT for what cuDNN's legacy API
  // cannot express (asymmetric padding).
  absl::StatusOr<std::unique_ptr<CudnnConvolution>> Convolution(const DeviceConvShape& shape,
                                                                GemmMath math);

  // "cuDNN 9.19.0".
  std::string Version() const;

  struct Api;  // the functions taken from the library (cudnn_convolution.cc)

 private:
  Cudnn() = default;
  std::unique_ptr<Api> api_;
  void* handle_ = nullptr;  // cudnnHandle_t
};

class CudnnConvolution {
 public:
  ~CudnnConvolution();

  // cudnnFindConvolutionForwardAlgorithmEx: times every forward algorithm
  // that fits in workspace_bytes with the math allowed; successful ones,
  // fastest first (empty when none ran). Overwrites y.
  absl::StatusOr<std::vector<CudnnAlgorithmTime>> Find(const float* x, const float* w, float* y,
                                                       void* workspace, int64_t workspace_bytes);

  // y = conv(x, w) with one algorithm (enqueued on the handle's stream).
  absl::Status Run(int algorithm, const float* x, const float* w, float* y, void* workspace,
                   int64_t workspace_bytes);

 private:
  friend class Cudnn;
  CudnnConvolution() = default;
  const Cudnn::Api* api_ = nullptr;
  void* handle_ = nullptr;
  void* x_desc_ = nullptr;
  void* w_desc_ = nullptr;
  void* y_desc_ = nullptr;
  void* conv_desc_ = nullptr;
};

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_PEERS_CUDNN_CONVOLUTION_H_
