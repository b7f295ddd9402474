// Timing on the GPU for the benchmarks: CUDA events around repeated
// launches on one stream, the median of several repetitions. Host code.
#ifndef CONVD_BENCH_GPU_TIMING_H_
#define CONVD_BENCH_GPU_TIMING_H_

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace convd::bench {

struct GpuTimingOptions {
  int repetitions = 7;             // the median of these is reported
  double min_repetition_ms = 2.0;  // launches per repetition reach this
  double single_run_ms = 250.0;    // a warm run slower than this is reported alone
};

// Milliseconds per call of `launch` (which enqueues work on `stream` and
// returns a cudaError_t, or an absl::Status for a peer library's call).
// One warm-up call sizes the repetitions: enough calls each that a
// repetition lasts min_repetition_ms, so launch gaps do not dominate small
// layers.
template <typename Launch>
absl::StatusOr<double> MedianMilliseconds(cudaStream_t stream, const GpuTimingOptions& options,
                                          Launch launch) {
  cudaEvent_t start, stop;
  if (cudaEventCreate(&start) != cudaSuccess || cudaEventCreate(&stop) != cudaSuccess) {
    return absl::InternalError("cudaEventCreate failed");
  }
  auto time_calls = [&](int calls) -> absl::StatusOr<double> {
    cudaEventRecord(start, stream);
    for (int i = 0; i < calls; ++i) {
      if constexpr (std::is_same_v<decltype(launch()), absl::Status>) {
        if (absl::Status status = launch(); !status.ok()) return status;
      } else if (cudaError_t e = launch(); e != cudaSuccess) {
        return absl::InternalError(absl::StrCat("launch: ", cudaGetErrorString(e)));
      }
    }
    cudaEventRecord(stop, stream);
    if (cudaError_t e = cudaEventSynchronize(stop); e != cudaSuccess) {
      return absl::InternalError(absl::StrCat("run: ", cudaGetErrorString(e)));
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    return double{ms} / calls;
  };
  absl::StatusOr<double> result = time_calls(1);  // warm-up (and first-use costs)
  if (result.ok() && *result < options.single_run_ms) {
    result = time_calls(1);
    if (result.ok()) {
      const int calls = std::clamp(
          static_cast<int>(std::ceil(options.min_repetition_ms / std::max(*result, 1e-3))), 1,
          1000);
      std::vector<double> times;
      for (int r = 0; r < options.repetitions && result.ok(); ++r) {
        result = time_calls(calls);
        if (result.ok()) times.push_back(*result);
      }
      if (result.ok()) {
        std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
        result = times[times.size() / 2];
      }
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return result;
}

// The card's FP32 FMA peak in TFLOP/s: SMs x FP32 lanes per SM x 2 x the
// boost clock the driver reports. Lanes per SM by architecture (NVIDIA's
// tuning guides): 64 on sm_60/70/75/80, 128 on sm_61, sm_86/89, sm_90 and
// newer.
inline double Fp32PeakTflops(int device) {
  cudaDeviceProp properties;
  int clock_khz = 0;
  if (cudaGetDeviceProperties(&properties, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device) != cudaSuccess) {
    return 0;
  }
  const int sm = properties.major * 10 + properties.minor;
  const int lanes = (sm == 60 || sm == 70 || sm == 72 || sm == 75 || sm == 80) ? 64 : 128;
  return properties.multiProcessorCount * static_cast<double>(lanes) * 2.0 * clock_khz * 1e3 / 1e12;
}

// Geometric mean of ratios (1 for none).
inline double GeometricMean(const std::vector<double>& ratios) {
  if (ratios.empty()) return 1.0;
  double log_sum = 0;
  for (double r : ratios) log_sum += std::log(r);
  return std::exp(log_sum / ratios.size());
}

}  // namespace convd::bench

#endif  // CONVD_BENCH_GPU_TIMING_H_
