#include "server/batching/scheduler.h"

#include <future>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"

namespace convd {
namespace {

using std::chrono::milliseconds;
constexpr int kRowElements = 5;

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
  };
  explicit DoublingRunner(Shared* shared) : shared_(shared) {}

  absl::Status Run(const float* input, int batch, Tensor& output, ModelStats* stats) override {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->batch_sizes.push_back(batch);
      shared_->max_running = std::max(shared_->max_running, ++shared_->running);
    }
    if (shared_->gate != nullptr) shared_->gate->WaitForNotification();
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

std::unique_ptr<Scheduler> MakeScheduler(DoublingRunner::Shared* shared, BatchingPolicy batching,
                                         int instances = 1, int max_queue_size = 0) {
  SchedulerOptions options;
  options.batching = std::move(batching);
  options.input_row_elements = kRowElements;
  options.output_row_elements = kRowElements;
  options.max_queue_size = max_queue_size;
  std::vector<std::unique_ptr<InstanceRunner>> runners;
  for (int i = 0; i < instances; ++i) runners.push_back(std::make_unique<DoublingRunner>(shared));
  return std::make_unique<Scheduler>(std::move(options), std::move(runners));
}

BatchingPolicy Dynamic(int max_batch, int delay_ms) {
  BatchingPolicy policy;
  policy.max_batch_size = max_batch;
  policy.max_queue_delay = milliseconds(delay_ms);
  return policy;
}

struct Submitted {
  std::shared_ptr<InferenceJob> job;
  std::future<absl::Status> result;
};

// `as_bytes`: the input as a request's raw bytes, adopted (JobInput::AdoptBytes).
Submitted MakeJob(int rows, bool as_bytes = false) {
  Submitted s;
  s.job = std::make_shared<InferenceJob>();
  s.job->rows = rows;
  std::vector<float> input = testing::RandomVector(rows * kRowElements);
  s.job->input = as_bytes
                     ? JobInput::AdoptBytes(std::string(reinterpret_cast<const char*>(input.data()),
                                                        input.size() * sizeof(float)))
                     : JobInput(std::move(input));
  auto promise = std::make_shared<std::promise<absl::Status>>();
  s.result = promise->get_future();
  s.job->done = [promise](absl::Status status) { promise->set_value(std::move(status)); };
  return s;
}

TEST(SchedulerTest, CombinesRequestsOfDifferentSizesAndScattersOutputs) {
  DoublingRunner::Shared shared;
  auto scheduler = MakeScheduler(&shared, Dynamic(8, 200));
  std::vector<Submitted> jobs;
  for (int rows : {1, 3, 2}) {
    jobs.push_back(MakeJob(rows, /*as_bytes=*/rows == 3));
    ASSERT_TRUE(scheduler->Schedule(jobs.back().job).ok());
  }
  for (Submitted& s : jobs) {
    ASSERT_TRUE(s.result.get().ok());
    EXPECT_EQ(s.job->batch_size, 6);
    ASSERT_EQ(s.job->output.size(), s.job->input.size());
    for (size_t i = 0; i < s.job->input.size(); ++i) {
      EXPECT_EQ(s.job->output[i], 2.0f * s.job->input[i]);
    }
    EXPECT_GE(s.job->times.queue_ns, 0);
  }
  EXPECT_EQ(shared.batch_sizes, std::vector<int>({6}));
}

// A runner with memory of its own for the input (as the GPU's pinned
// staging buffer): the scheduler gathers every batch, a lone job's too,
// straight into it, and Run reads it there.
class StagingRunner : public DoublingRunner {
 public:
  using DoublingRunner::DoublingRunner;
  float* InputBuffer(int batch) override {
    staging_.assign(static_cast<size_t>(batch) * kRowElements, -1.0f);
    return staging_.data();
  }
  absl::Status Run(const float* input, int batch, Tensor& output, ModelStats* stats) override {
    runs_from_staging_ += input == staging_.data();
    return DoublingRunner::Run(input, batch, output, stats);
  }
  int runs_from_staging() const { return runs_from_staging_; }

 private:
  std::vector<float> staging_;
  int runs_from_staging_ = 0;  // only the instance's thread touches it
};

TEST(SchedulerTest, GathersIntoTheRunnersInputBuffer) {
  DoublingRunner::Shared shared;
  SchedulerOptions options;
  options.batching = Dynamic(8, 200);
  options.input_row_elements = kRowElements;
  options.output_row_elements = kRowElements;
  auto runner = std::make_unique<StagingRunner>(&shared);
  const StagingRunner* staging_runner = runner.get();
  std::vector<std::unique_ptr<InstanceRunner>> runners;
  runners.push_back(std::move(runner));
  auto scheduler = std::make_unique<Scheduler>(std::move(options), std::move(runners));
  std::vector<Submitted> jobs;
  for (int rows : {2, 1, 4}) {  // one batch of three jobs
    jobs.push_back(MakeJob(rows));
    ASSERT_TRUE(scheduler->Schedule(jobs.back().job).ok());
  }
  for (Submitted& s : jobs) ASSERT_TRUE(s.result.get().ok());
  Submitted alone = MakeJob(3);  // then a batch of one
  ASSERT_TRUE(scheduler->Schedule(alone.job).ok());
  ASSERT_TRUE(alone.result.get().ok());
  jobs.push_back(std::move(alone));
  for (const Submitted& s : jobs) {
    ASSERT_EQ(s.job->output.size(), s.job->input.size());
    for (size_t i = 0; i < s.job->input.size(); ++i) {
      EXPECT_EQ(s.job->output[i], 2.0f * s.job->input[i]);
    }
  }
  // Each job's answer came after its run, so the counts are settled.
  EXPECT_EQ(staging_runner->runs_from_staging(), 2);
  std::lock_guard<std::mutex> lock(shared.mutex);
  EXPECT_EQ(shared.batch_sizes, std::vector<int>({7, 3}));
}

// One request at a time, each sent after the last one's answer: once the
// forecast has seen them come alone, they stop paying the batching delay.
std::vector<int64_t> SequentialQueueTimes(Scheduler& scheduler, int count) {
  std::vector<int64_t> queue_ns;
  for (int i = 0; i < count; ++i) {
    Submitted s = MakeJob(1);
    EXPECT_TRUE(scheduler.Schedule(s.job).ok());
    EXPECT_TRUE(s.result.get().ok());
    queue_ns.push_back(s.job->times.queue_ns);
  }
  return queue_ns;
}

TEST(SchedulerTest, RequestsThatComeAloneStopWaitingForCompany) {
  DoublingRunner::Shared shared;
  constexpr int kDelayMs = 60;
  auto scheduler = MakeScheduler(&shared, Dynamic(8, kDelayMs));
  const std::vector<int64_t> queue_ns = SequentialQueueTimes(*scheduler, 18);
  // A fresh model batches as configured: the first requests wait.
  EXPECT_GE(queue_ns[0], kDelayMs * 1'000'000);
  for (int i = 14; i < 18; ++i) {
    EXPECT_LT(queue_ns[i], kDelayMs * 1'000'000 / 2) << "request " << i;
  }
}

TEST(SchedulerTest, StrictDelayAlwaysWaitsForCompany) {
  DoublingRunner::Shared shared;
  constexpr int kDelayMs = 15;
  BatchingPolicy policy = Dynamic(8, kDelayMs);
  policy.strict_queue_delay = true;
  auto scheduler = MakeScheduler(&shared, policy);
  for (int64_t ns : SequentialQueueTimes(*scheduler, 18)) EXPECT_GE(ns, kDelayMs * 1'000'000);
}

TEST(SchedulerTest, FullQueueRefusesAtOnceAndKeepsTheJobWithTheCaller) {
  DoublingRunner::Shared shared;
  absl::Notification gate;
  shared.gate = &gate;
  auto scheduler = MakeScheduler(&shared, Dynamic(1, 0), 1, /*max_queue_size=*/2);
  Submitted running = MakeJob(1);
  ASSERT_TRUE(scheduler->Schedule(running.job).ok());
  // Wait until the instance has taken the first job, so the queue is empty.
  while (scheduler->queue_depth() != 0) std::this_thread::yield();
  Submitted a = MakeJob(1), b = MakeJob(1), c = MakeJob(1);
  ASSERT_TRUE(scheduler->Schedule(a.job).ok());
  ASSERT_TRUE(scheduler->Schedule(b.job).ok());
  const absl::Status refused = scheduler->Schedule(c.job);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find("queue is full"), std::string::npos) << refused;
  gate.Notify();
  EXPECT_TRUE(running.result.get().ok());
  EXPECT_TRUE(a.result.get().ok());
  EXPECT_TRUE(b.result.get().ok());
  EXPECT_EQ(c.result.wait_for(milliseconds(0)), std::future_status::timeout);  // never called
}

TEST(SchedulerTest, QueueTimeoutGivesDeadlineExceeded) {
  DoublingRunner::Shared shared;
  auto scheduler = MakeScheduler(&shared, Dynamic(8, 10000));  // would wait 10 s
  Submitted s = MakeJob(1);
  s.job->queue_deadline = SteadyClock::now() + milliseconds(20);
  ASSERT_TRUE(scheduler->Schedule(s.job).ok());
  ASSERT_EQ(s.result.wait_for(milliseconds(5000)), std::future_status::ready);
  const absl::Status status = s.result.get();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_TRUE(shared.batch_sizes.empty());
}

TEST(SchedulerTest, CancelledJobIsDroppedFromTheQueue) {
  DoublingRunner::Shared shared;
  auto scheduler = MakeScheduler(&shared, Dynamic(8, 10000));
  Submitted s = MakeJob(2);
  ASSERT_TRUE(scheduler->Schedule(s.job).ok());
  scheduler->Cancel(*s.job);
  ASSERT_EQ(s.result.wait_for(milliseconds(5000)), std::future_status::ready);
  EXPECT_EQ(s.result.get().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(scheduler->queue_depth(), 0);
  EXPECT_TRUE(shared.batch_sizes.empty());
}

TEST(SchedulerTest, StopRunsEveryQueuedJobWithoutWaitingForTheDelay) {
  DoublingRunner::Shared shared;
  auto scheduler = MakeScheduler(&shared, Dynamic(4, 60000));  // a minute
  std::vector<Submitted> jobs;
  for (int i = 0; i < 7; ++i) {
    jobs.push_back(MakeJob(1 + i % 2));
    ASSERT_TRUE(scheduler->Schedule(jobs.back().job).ok());
  }
  const TimePoint start = SteadyClock::now();
  scheduler->Stop();
  EXPECT_LT(SteadyClock::now() - start, std::chrono::seconds(30));
  for (Submitted& s : jobs) EXPECT_TRUE(s.result.get().ok());
  EXPECT_EQ(scheduler->Schedule(MakeJob(1).job).code(), absl::StatusCode::kUnavailable);
}

TEST(SchedulerTest, InstancesRunBatchesConcurrently) {
  DoublingRunner::Shared shared;
  absl::Notification gate;
  shared.gate = &gate;
  auto scheduler = MakeScheduler(&shared, Dynamic(1, 0), /*instances=*/2);
  Submitted a = MakeJob(1), b = MakeJob(1);
  ASSERT_TRUE(scheduler->Schedule(a.job).ok());
  ASSERT_TRUE(scheduler->Schedule(b.job).ok());
  for (;;) {  // both instances inside Run at once, or this test times out
    std::lock_guard<std::mutex> lock(shared.mutex);
    if (shared.running == 2) break;
  }
  gate.Notify();
  EXPECT_TRUE(a.result.get().ok());
  EXPECT_TRUE(b.result.get().ok());
  EXPECT_EQ(shared.max_running, 2);
}

}  // namespace
}  // namespace convd
