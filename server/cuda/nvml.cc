#include "server/cuda/nvml.h"

#include <cuda_runtime.h>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/peers/vendor_library.h"

namespace convd {
namespace {

// The few NVML declarations used (nvml.h ships with the driver's
// development files, which the toolkit here lacks); their ABI is stable.
using NvmlReturn = int;  // nvmlReturn_t; 0 is NVML_SUCCESS
using NvmlDevice = struct NvmlDeviceOpaque*;
struct NvmlUtilization {  // nvmlUtilization_t
  unsigned int gpu;       // % of the last sample period a kernel ran
  unsigned int memory;    // % of it device memory was read or written
};
constexpr NvmlReturn kNvmlSuccess = 0;

}  // namespace

struct Nvml::Api {
  cuda::VendorLibrary library;
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  const char* (*error_string)(NvmlReturn) = nullptr;
  NvmlReturn (*handle_by_pci_bus_id)(const char*, NvmlDevice*) = nullptr;
  NvmlReturn (*utilization_rates)(NvmlDevice, NvmlUtilization*) = nullptr;
  NvmlReturn (*power_usage)(NvmlDevice, unsigned int*) = nullptr;
  NvmlReturn (*enforced_power_limit)(NvmlDevice, unsigned int*) = nullptr;
  NvmlDevice device = nullptr;
  bool initialized = false;

  absl::Status Check(NvmlReturn result, const char* call) const {
    if (result == kNvmlSuccess) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat(call, ": ", error_string != nullptr ? error_string(result) : "error",
                     " (NVML ", result, ")"));
  }
};

Nvml::Nvml(std::unique_ptr<Api> api) : api_(std::move(api)) {}

Nvml::~Nvml() {
  if (api_->initialized) api_->shutdown();
}

absl::StatusOr<std::unique_ptr<Nvml>> Nvml::OpenForCudaDevice(int cuda_device) {
  absl::StatusOr<cuda::VendorLibrary> library =
      cuda::VendorLibrary::Open({"libnvidia-ml.so.1", "libnvidia-ml.so"});
  if (!library.ok()) return library.status();
  auto api = std::unique_ptr<Api>(new Api{.library = std::move(*library)});
  auto resolve = [&](auto& function, const char* name) -> absl::Status {
    auto symbol =
        api->library.Symbol<std::remove_pointer_t<std::remove_reference_t<decltype(function)>>>(
            name);
    if (!symbol.ok()) return symbol.status();
    function = *symbol;
    return absl::OkStatus();
  };
  for (absl::Status status :
       {resolve(api->init, "nvmlInit_v2"), resolve(api->shutdown, "nvmlShutdown"),
        resolve(api->error_string, "nvmlErrorString"),
        resolve(api->handle_by_pci_bus_id, "nvmlDeviceGetHandleByPciBusId_v2"),
        resolve(api->utilization_rates, "nvmlDeviceGetUtilizationRates"),
        resolve(api->power_usage, "nvmlDeviceGetPowerUsage"),
        resolve(api->enforced_power_limit, "nvmlDeviceGetEnforcedPowerLimit")}) {
    if (!status.ok()) return status;
  }
  if (absl::Status status = api->Check(api->init(), "nvmlInit_v2"); !status.ok()) return status;
  api->initialized = true;
  std::unique_ptr<Nvml> nvml(new Nvml(std::move(api)));  // shuts NVML down on failure below
  char bus_id[32] = {};
  if (const cudaError_t error = cudaDeviceGetPCIBusId(bus_id, sizeof(bus_id), cuda_device);
      error != cudaSuccess) {
    return absl::UnavailableError(
        absl::StrCat("cudaDeviceGetPCIBusId: ", cudaGetErrorString(error)));
  }
  if (absl::Status status =
          nvml->api_->Check(nvml->api_->handle_by_pci_bus_id(bus_id, &nvml->api_->device),
                            "nvmlDeviceGetHandleByPciBusId_v2");
      !status.ok()) {
    return status;
  }
  return nvml;
}

absl::StatusOr<GpuActivity> Nvml::Read() const {
  NvmlUtilization utilization{};
  if (absl::Status status = api_->Check(api_->utilization_rates(api_->device, &utilization),
                                        "nvmlDeviceGetUtilizationRates");
      !status.ok()) {
    return status;
  }
  GpuActivity activity;
  activity.utilization = utilization.gpu / 100.0;
  // Power readings are optional (not every board reports them).
  unsigned int milliwatts = 0;
  if (api_->power_usage(api_->device, &milliwatts) == kNvmlSuccess) {
    activity.power_watts = milliwatts / 1000.0;
  }
  if (api_->enforced_power_limit(api_->device, &milliwatts) == kNvmlSuccess) {
    activity.power_limit_watts = milliwatts / 1000.0;
  }
  return activity;
}

}  // namespace convd
