#include "server/core/model_statistics.h"

#include <algorithm>
#include <chrono>

namespace convd {
namespace {

template <typename D>
void Put(const D& from, inference::StatisticDuration* to) {
  to->set_count(from.count);
  to->set_ns(from.ns);
}

uint64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void DurationHistogram::Add(int64_t ns) {
  const double seconds = static_cast<double>(std::max<int64_t>(ns, 0)) * 1e-9;
  size_t bucket = 0;
  while (bucket < kDurationBuckets.size() && seconds > kDurationBuckets[bucket]) ++bucket;
  ++counts[bucket];
  ++count;
  sum_seconds += seconds;
}

void ModelStatisticsRecorder::RecordSuccess(int rows, int64_t total_ns, const JobTimes& times) {
  std::lock_guard<std::mutex> lock(mutex_);
  last_inference_ms_ = NowMs();
  inference_count_ += rows;
  success_.Add(total_ns);
  queue_.Add(times.queue_ns);
  compute_input_.Add(times.compute_input_ns);
  compute_infer_.Add(times.compute_infer_ns);
  compute_output_.Add(times.compute_output_ns);
  request_histogram_.Add(total_ns);
  queue_histogram_.Add(times.queue_ns);
  compute_histogram_.Add(times.compute_infer_ns);
}

void ModelStatisticsRecorder::RecordCacheHit(int rows, int64_t total_ns, int64_t lookup_ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  last_inference_ms_ = NowMs();
  inference_count_ += rows;
  success_.Add(total_ns);
  cache_hit_.Add(lookup_ns);
  request_histogram_.Add(total_ns);
}

void ModelStatisticsRecorder::RecordCacheMiss(int64_t lookup_and_insert_ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  cache_miss_.Add(lookup_and_insert_ns);
}

void ModelStatisticsRecorder::RecordFailure(int64_t total_ns, absl::StatusCode reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  last_inference_ms_ = NowMs();
  fail_.Add(total_ns);
  ++failures_[reason];
}

ModelMetrics ModelStatisticsRecorder::Metrics() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ModelMetrics metrics;
  metrics.success = success_.count;
  metrics.failures = failures_;
  metrics.inference_count = inference_count_;
  metrics.execution_count = execution_count_;
  metrics.cache_hits = cache_hit_.count;
  metrics.cache_misses = cache_miss_.count;
  metrics.request = request_histogram_;
  metrics.queue = queue_histogram_;
  metrics.compute = compute_histogram_;
  for (const auto& [size, durations] : batches_) {
    metrics.executions_by_batch_size[size] = durations.compute_infer.count;
  }
  return metrics;
}

void ModelStatisticsRecorder::RecordExecution(int batch_size, const JobTimes& times) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++execution_count_;
  BatchDurations& batch = batches_[batch_size];
  batch.compute_input.Add(times.compute_input_ns);
  batch.compute_infer.Add(times.compute_infer_ns);
  batch.compute_output.Add(times.compute_output_ns);
}

void ModelStatisticsRecorder::Fill(inference::ModelStatistics& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  out.set_last_inference(last_inference_ms_);
  out.set_inference_count(inference_count_);
  out.set_execution_count(execution_count_);
  inference::InferStatistics& stats = *out.mutable_inference_stats();
  Put(success_, stats.mutable_success());
  Put(fail_, stats.mutable_fail());
  Put(queue_, stats.mutable_queue());
  Put(compute_input_, stats.mutable_compute_input());
  Put(compute_infer_, stats.mutable_compute_infer());
  Put(compute_output_, stats.mutable_compute_output());
  Put(cache_hit_, stats.mutable_cache_hit());
  Put(cache_miss_, stats.mutable_cache_miss());
  for (const auto& [size, durations] : batches_) {
    inference::InferBatchStatistics& batch = *out.add_batch_stats();
    batch.set_batch_size(size);
    Put(durations.compute_input, batch.mutable_compute_input());
    Put(durations.compute_infer, batch.mutable_compute_infer());
    Put(durations.compute_output, batch.mutable_compute_output());
  }
}

}  // namespace convd
