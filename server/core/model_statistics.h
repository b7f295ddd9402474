// Triton-style cumulative statistics of one served model version: request
// outcomes and durations, executions per batch size, and memory usage.
// Thread safe; recording takes one short lock.
#ifndef CONVD_SERVER_CORE_MODEL_STATISTICS_H_
#define CONVD_SERVER_CORE_MODEL_STATISTICS_H_

#include <cstdint>
#include <map>
#include <mutex>

#include "proto/inference.pb.h"
#include "server/batching/scheduler.h"

namespace convd {

class ModelStatisticsRecorder : public ExecutionObserver {
 public:
  // A request that ran: `rows` images, `total_ns` from arrival to response.
  void RecordSuccess(int rows, int64_t total_ns, const JobTimes& times);
  // A request that failed after it reached this model.
  void RecordFailure(int64_t total_ns);
  // One batch execution (called by the scheduler).
  void RecordExecution(int batch_size, const JobTimes& times) override;

  // Fills the cumulative counters (name, version and memory are the
  // caller's).
  void Fill(inference::ModelStatistics& out) const;

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
  std::map<int, BatchDurations> batches_;
};

}  // namespace convd

#endif  // CONVD_SERVER_CORE_MODEL_STATISTICS_H_
