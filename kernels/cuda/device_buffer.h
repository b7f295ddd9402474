// Device memory owned by one object (cudaMalloc/cudaFree), with checked
// copies to and from the host. Host code only.
//
//   ASSIGN_OR_RETURN(DeviceBuffer weights, DeviceBuffer::FromHost(host_weights));
//   LaunchSgemm(shape, weights.data(), ...);
#ifndef CONVD_KERNELS_CUDA_DEVICE_BUFFER_H_
#define CONVD_KERNELS_CUDA_DEVICE_BUFFER_H_

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cuda/cuda_check.h"

namespace convd::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), floats_(std::exchange(other.floats_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(floats_, other.floats_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (data_ != nullptr) cudaFree(data_);
  }

  // RESOURCE_EXHAUSTED when the device is out of memory.
  static absl::StatusOr<DeviceBuffer> Allocate(int64_t floats) {
    DeviceBuffer buffer;
    if (floats > 0) {
      CUDA_RETURN_IF_ERROR(cudaMalloc(&buffer.data_, floats * sizeof(float)));
    }
    buffer.floats_ = floats;
    return buffer;
  }

  static absl::StatusOr<DeviceBuffer> FromHost(const std::vector<float>& host) {
    absl::StatusOr<DeviceBuffer> buffer = Allocate(static_cast<int64_t>(host.size()));
    if (!buffer.ok()) return buffer;
    if (!host.empty()) {
      CUDA_RETURN_IF_ERROR(cudaMemcpy(buffer->data_, host.data(), host.size() * sizeof(float),
                                      cudaMemcpyHostToDevice));
    }
    return buffer;
  }

  // The first `floats` values (all of them by default; at most all).
  absl::StatusOr<std::vector<float>> ToHost(int64_t floats = -1) const {
    const int64_t count = floats < 0 ? floats_ : std::min(floats, floats_);
    std::vector<float> host(static_cast<size_t>(count));
    if (count > 0) {
      CUDA_RETURN_IF_ERROR(
          cudaMemcpy(host.data(), data_, count * sizeof(float), cudaMemcpyDeviceToHost));
    }
    return host;
  }

  float* data() { return data_; }
  const float* data() const { return data_; }
  int64_t floats() const { return floats_; }

 private:
  float* data_ = nullptr;
  int64_t floats_ = 0;
};

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_DEVICE_BUFFER_H_
