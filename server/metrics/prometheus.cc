#include "server/metrics/prometheus.h"

#include <charconv>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/metrics/prometheus_text.h"
#include "server/metrics/triton_metrics.h"

namespace convd {
namespace {

std::string ReasonName(absl::StatusCode code) {
  return absl::StatusCodeToString(code);  // e.g. INVALID_ARGUMENT
}

struct Model {
  std::string labels;  // model="...",version="..."
  std::shared_ptr<ServedModel> served;
  ModelMetrics metrics;
};

void Histogram(PrometheusWriter& out, const std::string& name, const std::string& labels,
               const DurationHistogram& histogram) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
    cumulative += histogram.counts[i];
    out.Sample(name + "_bucket", absl::StrFormat("%s,le=\"%g\"", labels, kDurationBuckets[i]),
               static_cast<double>(cumulative));
  }
  out.Sample(name + "_bucket", labels + ",le=\"+Inf\"", static_cast<double>(histogram.count));
  out.Sample(name + "_sum", labels, histogram.sum_seconds);
  out.Sample(name + "_count", labels, static_cast<double>(histogram.count));
}

}  // namespace

std::string RenderPrometheusMetrics(const InferenceService& service, const GpuBackend* gpu,
                                    bool triton_names) {
  std::vector<Model> models;
  for (std::shared_ptr<ServedModel>& served : service.repository().AllServed()) {
    Model model;
    model.labels = absl::StrFormat("model=\"%s\",version=\"%d\"", EscapeLabelValue(served->name()),
                                   served->version());
    model.metrics = served->statistics().Metrics();
    model.served = std::move(served);
    models.push_back(std::move(model));
  }
  PrometheusWriter out;
  out.Header("convd_inference_request_success_total", "counter",
             "Inference requests that succeeded.");
  for (const Model& m : models) {
    out.Sample("convd_inference_request_success_total", m.labels,
               static_cast<double>(m.metrics.success));
  }
  out.Header("convd_inference_request_failure_total", "counter",
             "Inference requests that failed, by reason (the status code); model \"\" counts "
             "requests refused before reaching a model.");
  for (const Model& m : models) {
    for (const auto& [code, count] : m.metrics.failures) {
      out.Sample("convd_inference_request_failure_total",
                 absl::StrCat(m.labels, ",reason=\"", ReasonName(code), "\""),
                 static_cast<double>(count));
    }
  }
  for (const auto& [code, count] : service.Rejected()) {
    out.Sample("convd_inference_request_failure_total",
               absl::StrCat("model=\"\",version=\"\",reason=\"", ReasonName(code), "\""),
               static_cast<double>(count));
  }
  out.Header("convd_inference_count_total", "counter", "Images inferred (batch rows).");
  for (const Model& m : models) {
    out.Sample("convd_inference_count_total", m.labels,
               static_cast<double>(m.metrics.inference_count));
  }
  out.Header("convd_inference_exec_count_total", "counter", "Batches executed.");
  for (const Model& m : models) {
    out.Sample("convd_inference_exec_count_total", m.labels,
               static_cast<double>(m.metrics.execution_count));
  }
  out.Header("convd_cache_hit_total", "counter",
             "Requests answered from the response cache (models that enable it).");
  for (const Model& m : models) {
    out.Sample("convd_cache_hit_total", m.labels, static_cast<double>(m.metrics.cache_hits));
  }
  out.Header("convd_cache_miss_total", "counter",
             "Requests the response cache did not hold (models that enable it).");
  for (const Model& m : models) {
    out.Sample("convd_cache_miss_total", m.labels, static_cast<double>(m.metrics.cache_misses));
  }
  if (const ResponseCache* cache = service.response_cache(); cache != nullptr) {
    // As Triton's nv_cache_num_entries and nv_cache_util.
    out.Header("convd_cache_entries", "gauge", "Responses the response cache holds.");
    out.Sample("convd_cache_entries", "", static_cast<double>(cache->entries()));
    out.Header("convd_cache_bytes", "gauge",
               "Bytes the response cache holds (inputs and responses), of "
               "convd_cache_capacity_bytes (--cache-config).");
    out.Sample("convd_cache_bytes", "", static_cast<double>(cache->bytes()));
    out.Header("convd_cache_capacity_bytes", "gauge", "The response cache's budget.");
    out.Sample("convd_cache_capacity_bytes", "", static_cast<double>(cache->capacity_bytes()));
  }
  const struct {
    const char* name;
    const char* help;
    DurationHistogram ModelMetrics::*member;
  } kHistograms[] = {
      {"convd_inference_request_duration_seconds",
       "Successful requests, arrival to response.", &ModelMetrics::request},
      {"convd_inference_queue_duration_seconds", "Time successful requests waited in the queue.",
       &ModelMetrics::queue},
      {"convd_inference_compute_duration_seconds",
       "Forward-pass time of the batch each successful request ran in.", &ModelMetrics::compute},
  };
  for (const auto& h : kHistograms) {
    out.Header(h.name, "histogram", h.help);
    for (const Model& m : models) Histogram(out, h.name, m.labels, m.metrics.*h.member);
  }
  out.Header("convd_inference_batch_size", "histogram", "Rows of each executed batch.");
  for (const Model& m : models) {
    uint64_t cumulative = 0, total = 0, sum = 0;
    for (const auto& [size, count] : m.metrics.executions_by_batch_size) {
      total += count;
      sum += count * static_cast<uint64_t>(size);
    }
    for (int bound = 1; bound <= 1024; bound *= 2) {
      cumulative = 0;
      for (const auto& [size, count] : m.metrics.executions_by_batch_size) {
        if (size <= bound) cumulative += count;
      }
      out.Sample("convd_inference_batch_size_bucket",
                 absl::StrCat(m.labels, ",le=\"", bound, "\""), static_cast<double>(cumulative));
    }
    out.Sample("convd_inference_batch_size_bucket", m.labels + ",le=\"+Inf\"",
               static_cast<double>(total));
    out.Sample("convd_inference_batch_size_sum", m.labels, static_cast<double>(sum));
    out.Sample("convd_inference_batch_size_count", m.labels, static_cast<double>(total));
  }
  out.Header("convd_inference_queue_depth", "gauge", "Requests waiting in the model's queue.");
  for (const Model& m : models) {
    out.Sample("convd_inference_queue_depth", m.labels, m.served->scheduler().queue_depth());
  }
  out.Header("convd_model_memory_bytes", "gauge",
             "Memory the model holds, reserved at load for max_batch_size: weights, and each "
             "instance's activation arena and workspace; device cpu_pinned is the GPU "
             "instances' page-locked staging buffers.");
  for (const Model& m : models) {
    for (const auto& [type, bytes] : m.served->MemoryByType()) {
      out.Sample("convd_model_memory_bytes",
                 absl::StrCat(m.labels, ",device=\"", absl::AsciiStrToLower(type), "\""),
                 static_cast<double>(bytes));
    }
  }
  const std::string gpu_labels =
      gpu != nullptr ? absl::StrCat("gpu=\"", EscapeLabelValue(gpu->description()), "\"") : "";
  if (gpu != nullptr && gpu->health) {
    out.Header("convd_gpu_healthy", "gauge",
               "1 while the GPU the models run on serves; 0 once it has failed and its CUDA "
               "context is lost, or while a forward pass on it has run past its time limit "
               "(the server is then not live: restart it).");
    out.Sample("convd_gpu_healthy", gpu_labels, gpu->health().ok() ? 1 : 0);
  }
  if (gpu != nullptr && gpu->memory) {
    // As Triton's nv_gpu_memory_*: what the whole device has in use.
    if (absl::StatusOr<GpuMemory> memory = gpu->memory(); memory.ok()) {
      out.Header("convd_gpu_memory_used_bytes", "gauge",
                 "Device memory in use on the GPU the models run on (all processes).");
      out.Sample("convd_gpu_memory_used_bytes", gpu_labels,
                 static_cast<double>(memory->used_bytes));
      out.Header("convd_gpu_memory_total_bytes", "gauge", "Device memory of that GPU.");
      out.Sample("convd_gpu_memory_total_bytes", gpu_labels,
                 static_cast<double>(memory->total_bytes));
    }
  }
  if (gpu != nullptr && gpu->activity) {
    // As Triton's nv_gpu_utilization and nv_gpu_power_*; absent without NVML.
    if (absl::StatusOr<GpuActivity> activity = gpu->activity(); activity.ok()) {
      out.Header("convd_gpu_utilization", "gauge",
                 "Fraction of the last sample period in which a kernel ran on the GPU [0, 1].");
      out.Sample("convd_gpu_utilization", gpu_labels, activity->utilization);
      if (activity->power_watts >= 0) {
        out.Header("convd_gpu_power_usage_watts", "gauge", "The GPU's power draw.");
        out.Sample("convd_gpu_power_usage_watts", gpu_labels, activity->power_watts);
      }
      if (activity->power_limit_watts >= 0) {
        out.Header("convd_gpu_power_limit_watts", "gauge", "The GPU's enforced power limit.");
        out.Sample("convd_gpu_power_limit_watts", gpu_labels, activity->power_limit_watts);
      }
    }
  }
  out.Header("convd_server_ready", "gauge", "1 when the server is ready, 0 otherwise.");
  out.Sample("convd_server_ready", "", service.Ready() ? 1 : 0);
  if (triton_names) WriteTritonMetrics(service, out);
  return std::move(out).text();
}

}  // namespace convd
