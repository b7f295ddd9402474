// CUDA error handling: every runtime call and kernel launch becomes an
// absl::Status carrying file:line, never an abort on a request path.
#ifndef CONVD_KERNELS_CUDA_CUDA_CHECK_H_
#define CONVD_KERNELS_CUDA_CUDA_CHECK_H_

#include <cuda_runtime.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace convd::cuda {

// The Status for `error`, which `expr` returned. A failed call also leaves
// its error behind as the thread's last error, where the next launch check
// (cudaGetLastError) would find it and blame its own kernel: a model whose
// load ran out of memory would fail the next model's first launch with
// "out of memory". This reads it, so the error is reported once, here. (A
// lost context's error is sticky: reading it changes nothing.)
inline absl::Status CudaStatus(cudaError_t error, const char* expr,
                               const char* file, int line) {
  if (error == cudaSuccess) return absl::OkStatus();
  (void)cudaGetLastError();
  const std::string message =
      absl::StrCat(file, ":", line, ": ", expr, ": ", cudaGetErrorName(error),
                   ": ", cudaGetErrorString(error));
  if (error == cudaErrorMemoryAllocation) {
    return absl::ResourceExhaustedError(message);
  }
  if (error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

}  // namespace convd::cuda

// Returns from the enclosing function with a Status if `expr` fails.
#define CUDA_RETURN_IF_ERROR(expr)                                        \
  do {                                                                    \
    const cudaError_t convd_cuda_error_ = (expr);                         \
    if (convd_cuda_error_ != cudaSuccess) {                               \
      return ::convd::cuda::CudaStatus(convd_cuda_error_, #expr, __FILE__, \
                                       __LINE__);                         \
    }                                                                     \
  } while (false)

// Checks the last kernel launch.
#define CUDA_RETURN_IF_LAUNCH_ERROR() CUDA_RETURN_IF_ERROR(cudaGetLastError())

#endif  // CONVD_KERNELS_CUDA_CUDA_CHECK_H_
