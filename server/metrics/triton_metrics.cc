#include "server/metrics/triton_metrics.h"

#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_format.h"

namespace convd {
namespace {

struct Model {
  std::string labels;  // model="...",version="..."
  std::shared_ptr<ServedModel> served;
  inference::ModelStatistics statistics;
  ModelMetrics metrics;
};

double Microseconds(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

}  // namespace

const char* TritonFailureReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return "REJECTED";
    case absl::StatusCode::kCancelled:
      return "CANCELED";
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return "BACKEND";
    default:
      return "OTHER";
  }
}

void WriteTritonMetrics(const InferenceService& service, PrometheusWriter& out) {
  std::vector<Model> models;
  for (std::shared_ptr<ServedModel>& served : service.repository().AllServed()) {
    Model model;
    model.labels = absl::StrFormat("model=\"%s\",version=\"%d\"", EscapeLabelValue(served->name()),
                                   served->version());
    served->statistics().Fill(model.statistics);
    model.metrics = served->statistics().Metrics();
    model.served = std::move(served);
    models.push_back(std::move(model));
  }
  const struct {
    const char* name;
    const char* help;
    // The count or the duration of one of the statistics' parts.
    double (*value)(const inference::ModelStatistics&);
  } kCounters[] = {
      {"nv_inference_request_success", "Number of successful inference requests, all batch sizes",
       [](const inference::ModelStatistics& s) {
         return static_cast<double>(s.inference_stats().success().count());
       }},
      {"nv_inference_count",
       "Number of inferences performed (images; convd counts those the response cache answered "
       "too)",
       [](const inference::ModelStatistics& s) {
         return static_cast<double>(s.inference_count());
       }},
      {"nv_inference_exec_count",
       "Number of model executions performed (does not include cached requests)",
       [](const inference::ModelStatistics& s) {
         return static_cast<double>(s.execution_count());
       }},
      {"nv_inference_request_duration_us",
       "Cumulative inference request duration in microseconds (includes cached requests)",
       [](const inference::ModelStatistics& s) {
         return Microseconds(s.inference_stats().success().ns());
       }},
      {"nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds",
       [](const inference::ModelStatistics& s) {
         return Microseconds(s.inference_stats().queue().ns());
       }},
      {"nv_inference_compute_input_duration_us",
       "Cumulative compute input duration in microseconds",
       [](const inference::ModelStatistics& s) {
         return Microseconds(s.inference_stats().compute_input().ns());
       }},
      {"nv_inference_compute_infer_duration_us",
       "Cumulative compute inference duration in microseconds",
       [](const inference::ModelStatistics& s) {
         return Microseconds(s.inference_stats().compute_infer().ns());
       }},
      {"nv_inference_compute_output_duration_us",
       "Cumulative inference compute output duration in microseconds",
       [](const inference::ModelStatistics& s) {
         return Microseconds(s.inference_stats().compute_output().ns());
       }},
      {"nv_cache_num_hits_per_model", "Number of cache hits per model",
       [](const inference::ModelStatistics& s) {
         return static_cast<double>(s.inference_stats().cache_hit().count());
       }},
      {"nv_cache_num_misses_per_model", "Number of cache misses per model",
       [](const inference::ModelStatistics& s) {
         return static_cast<double>(s.inference_stats().cache_miss().count());
       }},
      {"nv_cache_hit_duration_per_model", "Total cache hit duration per model, in microseconds",
       [](const inference::ModelStatistics& s) {
         return Microseconds(s.inference_stats().cache_hit().ns());
       }},
      {"nv_cache_miss_duration_per_model",
       "Total cache miss (insertion included) duration per model, in microseconds",
       [](const inference::ModelStatistics& s) {
         return Microseconds(s.inference_stats().cache_miss().ns());
       }},
  };
  for (const auto& counter : kCounters) {
    out.Header(counter.name, "counter", counter.help);
    for (const Model& m : models) out.Sample(counter.name, m.labels, counter.value(m.statistics));
  }
  out.Header("nv_inference_request_failure", "counter",
             "Number of failed inference requests, all batch sizes");
  for (const Model& m : models) {
    std::map<std::string, uint64_t> by_reason;  // Triton's reasons, several codes each
    for (const auto& [code, count] : m.metrics.failures) {
      by_reason[TritonFailureReason(code)] += count;
    }
    for (const auto& [reason, count] : by_reason) {
      out.Sample("nv_inference_request_failure", m.labels + ",reason=\"" + reason + "\"",
                 static_cast<double>(count));
    }
  }
  out.Header("nv_inference_pending_request_count", "gauge",
             "Instantaneous number of pending requests awaiting execution per-model.");
  for (const Model& m : models) {
    out.Sample("nv_inference_pending_request_count", m.labels, m.served->scheduler().queue_depth());
  }
}

}  // namespace convd
