// A Scheduler over runners that double their input, and jobs whose
// results arrive on futures: for the scheduler's tests.
#ifndef CONVD_SERVER_BATCHING_TESTING_DOUBLING_RUNNER_H_
#define CONVD_SERVER_BATCHING_TESTING_DOUBLING_RUNNER_H_

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "kernels/testing/numeric.h"
#include "server/batching/scheduler.h"

namespace convd {
namespace testing {

inline constexpr int kRowElements = 5;

// Output row = 2 * input row, so a
// job's output shows whether it got its own rows back. Optionally blocks
// each run until `gate` is notified, and counts concurrent runs.
class DoublingRunner : public InstanceRunner {
 public:
  struct Shared {
    std::mutex mutex;
    std::vector<int> batch_sizes;
    int running = 0;
    int max_running = 0;
    absl::Notification* gate = nullptr;
    // Set: only a batch whose first input value is this waits at `gate`.
    std::optional<float> gated_first_value;
  };
  explicit DoublingRunner(Shared* shared) : shared_(shared) {}

  absl::Status Run(const float* input, int batch, Tensor& output, ModelStats* stats) override {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->batch_sizes.push_back(batch);
      shared_->max_running = std::max(shared_->max_running, ++shared_->running);
    }
    if (shared_->gate != nullptr &&
        (!shared_->gated_first_value.has_value() || input[0] == *shared_->gated_first_value)) {
      shared_->gate->WaitForNotification();
    }
    output = Tensor(TensorShape{batch, kRowElements, 1, 1});
    for (int i = 0; i < batch * kRowElements; ++i) output.data()[i] = 2.0f * input[i];
    if (stats != nullptr) stats->batch = batch;
    std::lock_guard<std::mutex> lock(shared_->mutex);
    --shared_->running;
    return absl::OkStatus();
  }

 private:
  Shared* shared_;
};

inline std::unique_ptr<Scheduler> MakeScheduler(DoublingRunner::Shared* shared,
                                                BatchingPolicy batching, int instances = 1,
                                                int max_queue_size = 0,
                                                std::chrono::nanoseconds inline_run_limit = {}) {
  SchedulerOptions options;
  options.batching = std::move(batching);
  options.input_row_elements = kRowElements;
  options.output_row_elements = kRowElements;
  options.max_queue_size = max_queue_size;
  options.inline_run_limit = inline_run_limit;
  std::vector<std::unique_ptr<InstanceRunner>> runners;
  for (int i = 0; i < instances; ++i) runners.push_back(std::make_unique<DoublingRunner>(shared));
  return std::make_unique<Scheduler>(std::move(options), std::move(runners));
}

// `strict`: always wait out the delay (BatchingPolicy::strict_queue_delay).
inline BatchingPolicy Dynamic(int max_batch, int delay_ms, bool strict = false) {
  BatchingPolicy policy;
  policy.max_batch_size = max_batch;
  policy.max_queue_delay = std::chrono::milliseconds(delay_ms);
  policy.strict_queue_delay = strict;
  return policy;
}

struct Submitted {
  std::shared_ptr<InferenceJob> job;
  std::future<absl::Status> result;
};

// `as_bytes`: the input as a request's raw bytes, adopted (JobInput::AdoptBytes).
inline Submitted MakeJob(int rows, bool as_bytes = false) {
  Submitted s;
  s.job = std::make_shared<InferenceJob>();
  s.job->rows = rows;
  std::vector<float> input = RandomVector(rows * kRowElements);
  s.job->input = as_bytes
                     ? JobInput::AdoptBytes(std::string(reinterpret_cast<const char*>(input.data()),
                                                        input.size() * sizeof(float)))
                     : JobInput(std::move(input));
  auto promise = std::make_shared<std::promise<absl::Status>>();
  s.result = promise->get_future();
  s.job->done = [promise](absl::Status status) { promise->set_value(std::move(status)); };
  return s;
}

}  // namespace testing
}  // namespace convd

#endif  // CONVD_SERVER_BATCHING_TESTING_DOUBLING_RUNNER_H_
