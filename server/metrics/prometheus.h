// /metrics in the Prometheus text exposition format (version 0.0.4): per
// model version, request outcomes (failures by reason), images and batch
// executions, cumulative and histogram durations (request, queue, compute),
// the batch-size histogram, the current queue depth and memory; plus the
// requests refused before reaching a model, and the GPU's memory when the
// server runs on one. Names follow Prometheus
// conventions (convd_*_total counters, *_seconds histograms, labels model
// and version).
#ifndef CONVD_SERVER_METRICS_PROMETHEUS_H_
#define CONVD_SERVER_METRICS_PROMETHEUS_H_

#include <string>

#include "server/core/gpu_backend.h"
#include "server/core/inference_service.h"

namespace convd {

inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// `gpu`: the backend the models run on, or null on the CPU.
// `triton_names`: Triton's names too (server/metrics/triton_metrics.h).
std::string RenderPrometheusMetrics(const InferenceService& service,
                                    const GpuBackend* gpu = nullptr, bool triton_names = false);

}  // namespace convd

#endif  // CONVD_SERVER_METRICS_PROMETHEUS_H_
