#include "kernels/cuda/fault_injection.h"

#include "kernels/cuda/launch.cuh"

namespace convd::cuda {
namespace {

__global__ void TrapKernel() { __trap(); }

}  // namespace

cudaError_t TrapOnDevice() {
  cudaStream_t stream = nullptr;
  if (const cudaError_t error = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
      error != cudaSuccess) {
    return error;
  }
  CONVD_LAUNCH(dim3(1), dim3(1), stream, TrapKernel);
  cudaError_t error = cudaGetLastError();
  if (error == cudaSuccess) error = cudaStreamSynchronize(stream);
  cudaStreamDestroy(stream);
  return error;
}

}  // namespace convd::cuda
