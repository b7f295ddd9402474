#include "server/core/gpu_backend.h"

namespace convd {
namespace {

GpuBackend*& Registered() {
  static GpuBackend* backend = nullptr;
  return backend;
}

}  // namespace

bool RegisterGpuBackend(GpuBackend backend) {
  Registered() = new GpuBackend(std::move(backend));  // lives for the process
  return true;
}

const GpuBackend* GetGpuBackend() { return Registered(); }

}  // namespace convd
