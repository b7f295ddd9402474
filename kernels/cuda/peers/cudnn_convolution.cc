#include "kernels/cuda/peers/cudnn_convolution.h"

#include <cudnn.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/peers/vendor_library.h"

namespace convd::cuda {

// The cuDNN functions used, each typed by its declaration in cudnn.h.
#define CONVD_CUDNN_FUNCTIONS(X)                                                     \
  X(cudnnGetVersion)                                                                 \
  X(cudnnGetErrorString)                                                             \
  X(cudnnCreate)                                                                     \
  X(cudnnDestroy)                                                                    \
  X(cudnnSetStream)                                                                  \
  X(cudnnCreateTensorDescriptor)                                                     \
  X(cudnnSetTensor4dDescriptor)                                                      \
  X(cudnnDestroyTensorDescriptor)                                                    \
  X(cudnnCreateFilterDescriptor)                                                     \
  X(cudnnSetFilter4dDescriptor)                                                      \
  X(cudnnDestroyFilterDescriptor)                                                    \
  X(cudnnCreateConvolutionDescriptor)                                                \
  X(cudnnSetConvolution2dDescriptor)                                                 \
  X(cudnnSetConvolutionGroupCount)                                                   \
  X(cudnnSetConvolutionMathType)                                                     \
  X(cudnnDestroyConvolutionDescriptor)                                               \
  X(cudnnGetConvolution2dForwardOutputDim)                                           \
  X(cudnnFindConvolutionForwardAlgorithmEx)                                          \
  X(cudnnConvolutionForward)

struct Cudnn::Api {
  VendorLibrary library;
#define CONVD_DECLARE(name) decltype(::name)* name = nullptr;
  CONVD_CUDNN_FUNCTIONS(CONVD_DECLARE)
#undef CONVD_DECLARE
};

namespace {

absl::Status CudnnError(const Cudnn::Api& api, cudnnStatus_t status, const char* what) {
  if (status == CUDNN_STATUS_SUCCESS) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", api.cudnnGetErrorString(status));
  if (status == CUDNN_STATUS_NOT_SUPPORTED || status == CUDNN_STATUS_BAD_PARAM) {
    return absl::InvalidArgumentError(message);
  }
  if (status == CUDNN_STATUS_ALLOC_FAILED) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

#define CONVD_CUDNN_RETURN_IF_ERROR(api, call)                                 \
  do {                                                                          \
    if (absl::Status s = CudnnError((api), (api).call, #call); !s.ok()) return s; \
  } while (false)

const char* AlgorithmName(cudnnConvolutionFwdAlgo_t algorithm) {
  switch (algorithm) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "WINOGRAD_NONFUSED";
    default: return "UNKNOWN";
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Cudnn>> Cudnn::Open(cudaStream_t stream) {
  absl::StatusOr<VendorLibrary> library = VendorLibrary::Open({"libcudnn.so.9", "libcudnn.so"});
  if (!library.ok()) return library.status();
  auto api = std::make_unique<Api>(Api{std::move(*library)});
  CONVD_CUDNN_FUNCTIONS(CONVD_RESOLVE_VENDOR_FUNCTION)
  std::unique_ptr<Cudnn> cudnn(new Cudnn());
  cudnnHandle_t handle = nullptr;
  const cudnnStatus_t status = api->cudnnCreate(&handle);
  if (status != CUDNN_STATUS_SUCCESS) {
    return absl::UnavailableError(
        absl::StrCat("cudnnCreate: ", api->cudnnGetErrorString(status)));
  }
  cudnn->handle_ = handle;
  cudnn->api_ = std::move(api);
  CONVD_CUDNN_RETURN_IF_ERROR(*cudnn->api_, cudnnSetStream(handle, stream));
  return cudnn;
}

Cudnn::~Cudnn() {
  if (handle_ != nullptr) api_->cudnnDestroy(static_cast<cudnnHandle_t>(handle_));
}

std::string Cudnn::Version() const {
  const size_t version = api_->cudnnGetVersion();
  return absl::StrCat("cuDNN ", version / 10000, ".", version / 100 % 100, ".", version % 100);
}

absl::StatusOr<std::unique_ptr<CudnnConvolution>> Cudnn::Convolution(
    const DeviceConvShape& shape, GemmMath math) {
  const int pad_bottom = (shape.p - 1) * shape.stride_h + (shape.r - 1) * shape.dilation_h + 1 -
                         shape.h - shape.pad_top;
  const int pad_right = (shape.q - 1) * shape.stride_w + (shape.s - 1) * shape.dilation_w + 1 -
                        shape.w - shape.pad_left;
  // cuDNN pads both sides alike; an output that needs less padding at the
  // end (pad_bottom < pad_top with a stride) still comes out the same size.
  if (pad_bottom > shape.pad_top || pad_right > shape.pad_left) {
    return absl::InvalidArgumentError("cuDNN's legacy API pads both sides alike");
  }
  const Api& api = *api_;
  std::unique_ptr<CudnnConvolution> conv(new CudnnConvolution());
  conv->api_ = api_.get();
  conv->handle_ = handle_;
  cudnnTensorDescriptor_t x_desc, y_desc;
  cudnnFilterDescriptor_t w_desc;
  cudnnConvolutionDescriptor_t conv_desc;
  CONVD_CUDNN_RETURN_IF_ERROR(api, cudnnCreateTensorDescriptor(&x_desc));
  conv->x_desc_ = x_desc;
  CONVD_CUDNN_RETURN_IF_ERROR(api, cudnnCreateTensorDescriptor(&y_desc));
  conv->y_desc_ = y_desc;
  CONVD_CUDNN_RETURN_IF_ERROR(api, cudnnCreateFilterDescriptor(&w_desc));
  conv->w_desc_ = w_desc;
  CONVD_CUDNN_RETURN_IF_ERROR(api, cudnnCreateConvolutionDescriptor(&conv_desc));
  conv->conv_desc_ = conv_desc;
  CONVD_CUDNN_RETURN_IF_ERROR(api, cudnnSetTensor4dDescriptor(x_desc, CUDNN_TENSOR_NCHW,
                                                              CUDNN_DATA_FLOAT, shape.n, shape.c,
                                                              shape.h, shape.w));
  CONVD_CUDNN_RETURN_IF_ERROR(
      api, cudnnSetFilter4dDescriptor(w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, shape.k,
                                      shape.c_per_group(), shape.r, shape.s));
  CONVD_CUDNN_RETURN_IF_ERROR(
      api, cudnnSetConvolution2dDescriptor(conv_desc, shape.pad_top, shape.pad_left,
                                           shape.stride_h, shape.stride_w, shape.dilation_h,
                                           shape.dilation_w, CUDNN_CROSS_CORRELATION,
                                           CUDNN_DATA_FLOAT));
  CONVD_CUDNN_RETURN_IF_ERROR(api, cudnnSetConvolutionGroupCount(conv_desc, shape.groups));
  CONVD_CUDNN_RETURN_IF_ERROR(
      api, cudnnSetConvolutionMathType(conv_desc, math == GemmMath::kFp32   ? CUDNN_FMA_MATH
                                                  : math == GemmMath::kTf32 ? CUDNN_TENSOR_OP_MATH
                                                  : CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION));
  int n = 0, k = 0, p = 0, q = 0;
  CONVD_CUDNN_RETURN_IF_ERROR(
      api, cudnnGetConvolution2dForwardOutputDim(conv_desc, x_desc, w_desc, &n, &k, &p, &q));
  if (n != shape.n || k != shape.k || p != shape.p || q != shape.q) {
    return absl::InvalidArgumentError(absl::StrCat("cuDNN computes a [", n, ", ", k, ", ", p,
                                                   ", ", q, "] output for this shape, not [",
                                                   shape.n, ", ", shape.k, ", ", shape.p, ", ",
                                                   shape.q, "]"));
  }
  CONVD_CUDNN_RETURN_IF_ERROR(
      api, cudnnSetTensor4dDescriptor(y_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, k, p, q));
  return conv;
}

CudnnConvolution::~CudnnConvolution() {
  if (api_ == nullptr) return;
  if (x_desc_) api_->cudnnDestroyTensorDescriptor(static_cast<cudnnTensorDescriptor_t>(x_desc_));
  if (y_desc_) api_->cudnnDestroyTensorDescriptor(static_cast<cudnnTensorDescriptor_t>(y_desc_));
  if (w_desc_) api_->cudnnDestroyFilterDescriptor(static_cast<cudnnFilterDescriptor_t>(w_desc_));
  if (conv_desc_) {
    api_->cudnnDestroyConvolutionDescriptor(static_cast<cudnnConvolutionDescriptor_t>(conv_desc_));
  }
}

absl::StatusOr<std::vector<CudnnAlgorithmTime>> CudnnConvolution::Find(
    const float* x, const float* w, float* y, void* workspace, int64_t workspace_bytes) {
  cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int returned = 0;
  CONVD_CUDNN_RETURN_IF_ERROR(
      *api_, cudnnFindConvolutionForwardAlgorithmEx(
                 static_cast<cudnnHandle_t>(handle_),
                 static_cast<cudnnTensorDescriptor_t>(x_desc_), x,
                 static_cast<cudnnFilterDescriptor_t>(w_desc_), w,
                 static_cast<cudnnConvolutionDescriptor_t>(conv_desc_),
                 static_cast<cudnnTensorDescriptor_t>(y_desc_), y,
                 CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, results, workspace,
                 static_cast<size_t>(workspace_bytes)));
  std::vector<CudnnAlgorithmTime> ranked;
  for (int i = 0; i < returned; ++i) {
    if (results[i].status != CUDNN_STATUS_SUCCESS) continue;
    ranked.push_back({static_cast<int>(results[i].algo), AlgorithmName(results[i].algo),
                      results[i].time, static_cast<int64_t>(results[i].memory)});
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.milliseconds < b.milliseconds;
  });
  return ranked;
}

absl::Status CudnnConvolution::Run(int algorithm, const float* x, const float* w, float* y,
                                   void* workspace, int64_t workspace_bytes) {
  const float alpha = 1.0f, beta = 0.0f;
  CONVD_CUDNN_RETURN_IF_ERROR(
      *api_, cudnnConvolutionForward(
                 static_cast<cudnnHandle_t>(handle_), &alpha,
                 static_cast<cudnnTensorDescriptor_t>(x_desc_), x,
                 static_cast<cudnnFilterDescriptor_t>(w_desc_), w,
                 static_cast<cudnnConvolutionDescriptor_t>(conv_desc_),
                 static_cast<cudnnConvolutionFwdAlgo_t>(algorithm), workspace,
                 static_cast<size_t>(workspace_bytes), &beta,
                 static_cast<cudnnTensorDescriptor_t>(y_desc_), y));
  return absl::OkStatus();
}

}  // namespace convd::cuda
