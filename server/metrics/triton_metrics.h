// Triton's metric names, for dashboards, alerts and autoscalers made for
// Triton (convd --triton-metrics): per model version, with Triton's labels
// model and version, from the counters the statistics extension serves.
//
//   nv_inference_request_success / _failure{reason}  requests (reason as
//       Triton's: REJECTED (queue full, not ready, timed out in the queue),
//       CANCELED, BACKEND (the forward pass failed), OTHER)
//   nv_inference_count, nv_inference_exec_count       images, batches run
//   nv_inference_pending_request_count               requests queued now
//   nv_inference_request_duration_us, _queue_duration_us,
//   _compute_input_duration_us, _compute_infer_duration_us,
//   _compute_output_duration_us                      cumulative microseconds
//   nv_cache_num_hits_per_model, _misses_per_model, nv_cache_hit_duration_per_model,
//   nv_cache_miss_duration_per_model                 the response cache
//
// Triton's counters carry no _total suffix, and its durations are
// microsecond counters, not histograms; these follow Triton, not
// Prometheus's conventions, so that queries written for Triton read them.
#ifndef CONVD_SERVER_METRICS_TRITON_METRICS_H_
#define CONVD_SERVER_METRICS_TRITON_METRICS_H_

#include "absl/status/status.h"
#include "server/core/inference_service.h"
#include "server/metrics/prometheus_text.h"

namespace convd {

// Triton's failure reason for a request that failed with `code`.
const char* TritonFailureReason(absl::StatusCode code);

void WriteTritonMetrics(const InferenceService& service, PrometheusWriter& out);

}  // namespace convd

#endif  // CONVD_SERVER_METRICS_TRITON_METRICS_H_
