// The CUDA runtime entry points the kernels, their tests and the GPU
// executor call, implemented on the host for the emulated builds (linked
// instead of libcudart): one "device" whose memory is the process's, and
// streams on which all work is finished when its call returns, so copies
// are memcpy, events read the clock and synchronising waits for nothing.
// Stream capture is real: work submitted to a capturing stream is kept as
// the graph, and a call that would wait on it (cudaStreamSynchronize)
// fails and invalidates the capture, as on a GPU. A kernel's __trap()
// loses the context for good (emulated_runtime.h: Trap). Memory is
// emulated_memory.cc's.
#include "kernels/cuda/emulation/emulated_runtime.h"

#include <cuda_runtime_api.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "kernels/cuda/emulation/emulated_device.h"

// The runtime's opaque handles, completed here.
struct CUstream_st {
  bool capturing = false;
  bool capture_invalidated = false;
  std::vector<std::function<void()>> captured;
};
struct CUevent_st {
  bool recorded = false;
  std::chrono::steady_clock::time_point when;
};
struct CUgraph_st {
  std::vector<std::function<void()>> work;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> work;
};

namespace convd::cuda::emulation {
namespace {
thread_local cudaError_t last_error = cudaSuccess;
// The whole process's, as a CUDA context is.
std::atomic<cudaError_t> context_error{cudaSuccess};

// The device's shared memory opt-in limit, and each kernel's raised limit
// (cudaFuncSetAttribute), as a context keeps them.
std::atomic<int> shared_per_block_optin{kH100SharedMemoryPerBlockOptin};
std::atomic<bool> without_kernel_image{false};
std::mutex dynamic_shared_mutex;
std::map<const void*, int>& DynamicSharedLimits() {
  static auto* limits = new std::map<const void*, int>;
  return *limits;
}

struct ErrorDescription {
  cudaError_t error;
  const char* name;
  const char* text;  // as the runtime's cudaGetErrorString words it
};

// The errors this runtime and our launchers return.
const ErrorDescription& Describe(cudaError_t error) {
  static constexpr ErrorDescription kKnown[] = {
      {cudaSuccess, "cudaSuccess", "no error"},
      {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
      {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
      {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration",
       "invalid configuration argument"},
      {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
      {cudaErrorInvalidDeviceFunction, "cudaErrorInvalidDeviceFunction", "invalid device function"},
      {cudaErrorNoKernelImageForDevice, "cudaErrorNoKernelImageForDevice",
       "no kernel image is available for execution on the device"},
      {cudaErrorNotSupported, "cudaErrorNotSupported", "operation not supported"},
      {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
      {cudaErrorInvalidPitchValue, "cudaErrorInvalidPitchValue", "invalid pitch argument"},
      {cudaErrorIllegalState, "cudaErrorIllegalState",
       "the operation cannot be performed in the present state"},
      {cudaErrorStreamCaptureUnsupported, "cudaErrorStreamCaptureUnsupported",
       "operation not permitted when stream is capturing"},
      {cudaErrorStreamCaptureInvalidated, "cudaErrorStreamCaptureInvalidated",
       "operation failed due to a previous error during capture"},
      {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
  };
  static constexpr ErrorDescription kUnknown = {cudaErrorUnknown, "cudaError (emulated runtime)",
                                                "an error the emulated runtime does not name"};
  for (const ErrorDescription& known : kKnown) {
    if (known.error == error) return known;
  }
  return kUnknown;
}

}  // namespace

void SetLastError(cudaError_t error) { last_error = error; }

cudaError_t Returned(cudaError_t error) {
  if (error != cudaSuccess) SetLastError(error);
  return error;
}

void Trap() { context_error.store(cudaErrorLaunchFailure); }

bool DynamicSharedAllowed(const void* kernel, size_t bytes) {
  if (bytes <= static_cast<size_t>(kDefaultSharedMemoryPerBlock)) return true;
  std::lock_guard<std::mutex> lock(dynamic_shared_mutex);
  const auto raised = DynamicSharedLimits().find(kernel);
  return raised != DynamicSharedLimits().end() && bytes <= static_cast<size_t>(raised->second);
}

void SetSharedMemoryPerBlockOptin(int bytes) { shared_per_block_optin.store(bytes); }

void EmulateDeviceWithoutKernelImage() { without_kernel_image.store(true); }

bool KernelImageLoads() { return !without_kernel_image.load(); }

cudaError_t ContextError() { return context_error.load(); }

void Enqueue(cudaStream_t stream, std::function<void()> work) {
  if (stream != nullptr && stream->capturing) {
    stream->captured.push_back(std::move(work));
  } else {
    work();
  }
}

}  // namespace convd::cuda::emulation

using ::convd::cuda::emulation::ContextError;
using ::convd::cuda::emulation::Enqueue;
using ::convd::cuda::emulation::last_error;
using ::convd::cuda::emulation::Returned;

// Every call below that needs the context fails once it is lost; those that
// release something release it first, so a test that lost it leaks nothing.

extern "C" {

cudaError_t CUDARTAPI cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaGetDeviceProperties(cudaDeviceProp* properties, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  std::memset(properties, 0, sizeof(*properties));
  std::strncpy(properties->name, ::convd::cuda::emulation::kEmulatedDeviceName,
               sizeof(properties->name) - 1);
  const bool current = ::convd::cuda::emulation::KernelImageLoads();
  properties->major = current ? 9 : 7;
  properties->minor = current ? 0 : 5;
  properties->multiProcessorCount = ::convd::cuda::emulation::kEmulatedMultiprocessors;
  properties->maxThreadsPerBlock = 1024;
  properties->warpSize = 32;
  return cudaSuccess;
}

// The attributes our launchers read; any other is cudaErrorInvalidValue.
cudaError_t CUDARTAPI cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  if (device != 0) return Returned(cudaErrorInvalidDevice);
  switch (attribute) {
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = ::convd::cuda::emulation::kDefaultSharedMemoryPerBlock;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = ::convd::cuda::emulation::shared_per_block_optin.load();
      return cudaSuccess;
    case cudaDevAttrMultiProcessorCount:
      *value = ::convd::cuda::emulation::kEmulatedMultiprocessors;
      return cudaSuccess;
    default:
      return Returned(cudaErrorInvalidValue);
  }
}

cudaError_t CUDARTAPI cudaFuncGetAttributes(cudaFuncAttributes* attributes, const void* kernel) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (kernel == nullptr) return Returned(cudaErrorInvalidDeviceFunction);
  if (!::convd::cuda::emulation::KernelImageLoads()) {
    return Returned(cudaErrorNoKernelImageForDevice);
  }
  std::memset(attributes, 0, sizeof(*attributes));
  attributes->maxThreadsPerBlock = 1024;
  attributes->binaryVersion = 90;
  attributes->ptxVersion = 90;
  return cudaSuccess;
}

// A dynamic shared memory limit is kept per kernel, and refused above the
// device's opt-in limit; a carveout is a hint (checked, then ignored, as
// the emulation has no L1 to share).
cudaError_t CUDARTAPI cudaFuncSetAttribute(const void* kernel, cudaFuncAttribute attribute,
                                           int value) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (kernel == nullptr) return Returned(cudaErrorInvalidDeviceFunction);
  switch (attribute) {
    case cudaFuncAttributeMaxDynamicSharedMemorySize: {
      if (value < 0 || value > ::convd::cuda::emulation::shared_per_block_optin.load()) {
        return Returned(cudaErrorInvalidValue);
      }
      std::lock_guard<std::mutex> lock(::convd::cuda::emulation::dynamic_shared_mutex);
      ::convd::cuda::emulation::DynamicSharedLimits()[kernel] = value;
      return cudaSuccess;
    }
    case cudaFuncAttributePreferredSharedMemoryCarveout:
      return value >= -1 && value <= 100 ? cudaSuccess : Returned(cudaErrorInvalidValue);
    default:
      return Returned(cudaErrorInvalidValue);
  }
}

// There is no bus: NVML (server/cuda/nvml.h) has no board to read.
cudaError_t CUDARTAPI cudaDeviceGetPCIBusId(char* bus_id, int length, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  return cudaErrorNotSupported;
}

cudaError_t CUDARTAPI cudaDriverGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaMemcpy(void* to, const void* from, size_t bytes, cudaMemcpyKind kind) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (bytes > 0 && (to == nullptr || from == nullptr)) return cudaErrorInvalidValue;
  if (bytes > 0) std::memmove(to, from, bytes);
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaMemcpyAsync(void* to, const void* from, size_t bytes, cudaMemcpyKind kind,
                                      cudaStream_t stream) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (bytes > 0 && (to == nullptr || from == nullptr)) return cudaErrorInvalidValue;
  if (bytes > 0) Enqueue(stream, [=] { std::memmove(to, from, bytes); });
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaMemcpy2DAsync(void* to, size_t to_pitch, const void* from,
                                        size_t from_pitch, size_t width, size_t height,
                                        cudaMemcpyKind kind, cudaStream_t stream) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (width > to_pitch || width > from_pitch) return cudaErrorInvalidPitchValue;
  if (width == 0 || height == 0) return cudaSuccess;
  if (to == nullptr || from == nullptr) return cudaErrorInvalidValue;
  Enqueue(stream, [=] {
    for (size_t row = 0; row < height; ++row) {
      std::memmove(static_cast<char*>(to) + row * to_pitch,
                   static_cast<const char*>(from) + row * from_pitch, width);
    }
  });
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  *stream = new CUstream_st;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, 0);
}

cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return ContextError();
}

cudaError_t CUDARTAPI cudaStreamSynchronize(cudaStream_t stream) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (stream != nullptr && stream->capturing) {
    stream->capture_invalidated = true;
    return cudaErrorStreamCaptureUnsupported;
  }
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (stream == nullptr) return cudaErrorStreamCaptureImplicit;  // the legacy stream
  if (stream->capturing) return cudaErrorIllegalState;
  stream->capturing = true;
  stream->capture_invalidated = false;
  stream->captured.clear();
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  *graph = nullptr;
  if (stream == nullptr || !stream->capturing) return cudaErrorIllegalState;
  stream->capturing = false;
  std::vector<std::function<void()>> work = std::move(stream->captured);
  stream->captured.clear();
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (stream->capture_invalidated) return cudaErrorStreamCaptureInvalidated;
  *graph = new CUgraph_st{std::move(work)};
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaGraphInstantiate(cudaGraphExec_t* instance, cudaGraph_t graph,
                                           unsigned long long flags) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (graph == nullptr) return cudaErrorInvalidValue;
  *instance = new CUgraphExec_st{graph->work};
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaGraphLaunch(cudaGraphExec_t instance, cudaStream_t stream) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (instance == nullptr) return cudaErrorInvalidValue;
  for (const std::function<void()>& work : instance->work) Enqueue(stream, work);
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return ContextError();
}

cudaError_t CUDARTAPI cudaGraphExecDestroy(cudaGraphExec_t instance) {
  delete instance;
  return ContextError();
}

cudaError_t CUDARTAPI cudaEventCreate(cudaEvent_t* event) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  *event = new CUevent_st;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return ContextError();
}

cudaError_t CUDARTAPI cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (event == nullptr) return cudaErrorInvalidValue;
  Enqueue(stream, [event] {
    event->recorded = true;
    event->when = std::chrono::steady_clock::now();
  });
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaEventSynchronize(cudaEvent_t event) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  return event == nullptr ? cudaErrorInvalidValue : cudaSuccess;
}

cudaError_t CUDARTAPI cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  CONVD_RETURN_IF_CONTEXT_LOST();
  if (start == nullptr || end == nullptr) return cudaErrorInvalidValue;
  if (!start->recorded || !end->recorded) return cudaErrorNotReady;
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}

// A lost context's error is sticky: reading it does not clear it.
cudaError_t CUDARTAPI cudaGetLastError() {
  CONVD_RETURN_IF_CONTEXT_LOST();
  const cudaError_t error = last_error;
  last_error = cudaSuccess;
  return error;
}

cudaError_t CUDARTAPI cudaPeekAtLastError() {
  CONVD_RETURN_IF_CONTEXT_LOST();
  return last_error;
}

const char* CUDARTAPI cudaGetErrorName(cudaError_t error) {
  return ::convd::cuda::emulation::Describe(error).name;
}

const char* CUDARTAPI cudaGetErrorString(cudaError_t error) {
  return ::convd::cuda::emulation::Describe(error).text;
}

}  // extern "C"
