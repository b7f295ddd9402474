// Whether a CUDA device can be used. Tests that need one skip cleanly
// (GTEST_SKIP) when this is false; the server falls back to the CPU.
#ifndef CONVD_KERNELS_CUDA_DEVICE_H_
#define CONVD_KERNELS_CUDA_DEVICE_H_

#include <string>

#include "absl/status/status.h"
#include "kernels/cuda/device_activation.h"
#include "kernels/cuda/device_params.h"
#include "kernels/op_params.h"

namespace convd::cuda {

// The kernels' view of an activation (the enums share their order).
inline DeviceActivationFunction ToDeviceActivation(const ActivationFunction& f) {
  return {static_cast<DeviceActivation>(f.type), f.negative_slope, f.clip_min, f.clip_max};
}

// Geometry for the kernels; p and q must already be computed
// (ComputeConvOutput / ComputePoolOutput). Bottom and right padding are
// implied by p and q.
inline DeviceConvShape ToDeviceConv(const ConvParams& p) {
  DeviceConvShape d;
  d.n = p.n, d.c = p.c, d.h = p.h, d.w = p.w, d.k = p.k, d.r = p.r, d.s = p.s;
  d.stride_h = p.stride_h, d.stride_w = p.stride_w;
  d.pad_top = p.pad_top, d.pad_left = p.pad_left;
  d.dilation_h = p.dilation_h, d.dilation_w = p.dilation_w;
  d.groups = p.groups, d.p = p.p, d.q = p.q;
  return d;
}

inline DevicePoolShape ToDevicePool(const PoolParams& p) {
  DevicePoolShape d;
  d.n = p.n, d.c = p.c, d.h = p.h, d.w = p.w;
  d.max = p.method == PoolMethod::kMax;
  d.kernel_h = p.kernel_h, d.kernel_w = p.kernel_w;
  d.stride_h = p.stride_h, d.stride_w = p.stride_w;
  d.pad_top = p.pad_top, d.pad_left = p.pad_left;
  d.pad_bottom = p.pad_bottom, d.pad_right = p.pad_right;
  d.count_include_pad = p.count_include_pad;
  d.p = p.p, d.q = p.q;
  return d;
}

// True when the runtime reports at least one device and it can run this
// build's kernels (an older GPU than their architectures cannot).
bool DeviceAvailable();

// True when the device is the host emulation of the kernel tests'
// `_emulated` builds (kernels/cuda/emulation), which runs kernels correctly
// but thousands of times slower: tests keep their largest cases for GPUs.
bool DeviceIsEmulated();

// "NVIDIA H100 80GB HBM3 (sm_90)", or why there is none (kNoDriver where
// no NVIDIA driver is loaded: kNvidiaDriverVersion is absent), or why it
// cannot run this build's kernels.
std::string DeviceDescription();
inline constexpr char kNoDriver[] = "no CUDA device (no NVIDIA driver is loaded)";
inline constexpr char kNvidiaDriverVersion[] = "/proc/driver/nvidia/version";

// The driver's CUDA version as cudaDriverGetVersion reports it ("13000").
std::string DriverVersion();

// Whether the device still runs work: a small allocation, a copy, a kernel
// and a copy back, on a stream of its own, checked. After a sticky error (a
// kernel's illegal address or trap loses the process's CUDA context, and
// every later call fails the same way) it fails with that error, as
// INTERNAL; RESOURCE_EXHAUSTED says only that the device's memory is full,
// which is no fault. Costs a few microseconds and synchronises the device
// (cudaFree), so callers probe after a failure, not per request.
absl::Status ProbeDevice();

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_DEVICE_H_
