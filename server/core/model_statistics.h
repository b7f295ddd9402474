// Triton-style cumulative statistics of one served model version: request
// outcomes and durations, executions per batch size, and memory usage.
// Thread safe; recording takes one short lock.
#ifndef CONVD_SERVER_CORE_MODEL_STATISTICS_H_
#define CONVD_SERVER_CORE_MODEL_STATISTICS_H_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>

#include "absl/status/status.h"

#include "proto/inference.pb.h"
#include "server/batching/scheduler.h"

namespace convd {

// Request durations bucketed for Prometheus histograms: upper bounds in
// seconds (the last bucket is +Inf).
inline constexpr std::array<double, 16> kDurationBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,   10.0};

struct DurationHistogram {
  std::array<uint64_t, kDurationBuckets.size() + 1> counts{};  // per bucket, not cumulative
  uint64_t count = 0;
  double sum_seconds = 0.0;
  void Add(int64_t ns);
};

// What /metrics reports for one model version.
struct ModelMetrics {
  uint64_t success = 0;
  std::map<absl::StatusCode, uint64_t> failures;  // by reason
  uint64_t inference_count = 0;                    // images
  uint64_t execution_count = 0;                    // batches run
  uint64_t cache_hits = 0, cache_misses = 0;       // requests, by the response cache
  DurationHistogram request, queue, compute;       // compute: the forward pass
  std::map<int, uint64_t> executions_by_batch_size;
};

class ModelStatisticsRecorder : public ExecutionObserver {
 public:
  // A request that ran: `rows` images, `total_ns` from arrival to response.
  void RecordSuccess(int rows, int64_t total_ns, const JobTimes& times);
  // A request that failed after it reached this model, with its code.
  void RecordFailure(int64_t total_ns, absl::StatusCode reason);
  // A request answered from the response cache: a success of `rows`
  // images that ran no batch; `lookup_ns` is the cache's part of it.
  void RecordCacheHit(int rows, int64_t total_ns, int64_t lookup_ns);
  // A request the cache did not hold: its lookup and, once it ran, the
  // insertion of its response.
  void RecordCacheMiss(int64_t lookup_and_insert_ns);
  // One batch execution (called by the scheduler).
  void RecordExecution(int batch_size, const JobTimes& times) override;

  // Fills the cumulative counters (name, version and memory are the
  // caller's).
  void Fill(inference::ModelStatistics& out) const;
  ModelMetrics Metrics() const;

 private:
  struct Duration {
    uint64_t count = 0;
    uint64_t ns = 0;
    void Add(int64_t value) {
      ++count;
      ns += static_cast<uint64_t>(value > 0 ? value : 0);
    }
  };
  struct BatchDurations {
    Duration compute_input, compute_infer, compute_output;
  };

  mutable std::mutex mutex_;
  uint64_t last_inference_ms_ = 0;
  uint64_t inference_count_ = 0;
  uint64_t execution_count_ = 0;
  Duration success_, fail_, queue_, compute_input_, compute_infer_, compute_output_;
  Duration cache_hit_, cache_miss_;
  std::map<int, BatchDurations> batches_;
  std::map<absl::StatusCode, uint64_t> failures_;
  DurationHistogram request_histogram_, queue_histogram_, compute_histogram_;
};

}  // namespace convd

#endif  // CONVD_SERVER_CORE_MODEL_STATISTICS_H_
