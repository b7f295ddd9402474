// GPU utilisation and power from NVML (libnvidia-ml.so.1, which comes with
// the NVIDIA driver, not the toolkit), opened at run time: a server on a
// machine without it serves as before and exports no such metrics.
//
// Thread safety: Read() may be called from any thread (NVML is thread-safe).
#ifndef CONVD_SERVER_CUDA_NVML_H_
#define CONVD_SERVER_CUDA_NVML_H_

#include <memory>

#include "absl/status/statusor.h"
#include "server/core/gpu_backend.h"

namespace convd {

class Nvml {
 public:
  // NVML's handle for CUDA device `cuda_device` (matched by PCI bus id).
  // UNAVAILABLE naming the library or the call that failed.
  static absl::StatusOr<std::unique_ptr<Nvml>> OpenForCudaDevice(int cuda_device);
  ~Nvml();

  absl::StatusOr<GpuActivity> Read() const;

 private:
  struct Api;
  explicit Nvml(std::unique_ptr<Api> api);
  std::unique_ptr<Api> api_;
};

}  // namespace convd

#endif  // CONVD_SERVER_CUDA_NVML_H_
