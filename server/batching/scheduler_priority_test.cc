// The scheduler's priority levels: the order queued jobs run in, what a
// batch takes, each level's own queue limit, and jobs delayed rather than
// rejected on timeout (Triton's dynamic_batching priority_levels and
// queue policies).
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/batching/scheduler.h"
#include "server/batching/testing/doubling_runner.h"

namespace convd {
namespace {

using std::chrono::milliseconds;
using testing::DoublingRunner;
using testing::Dynamic;
using testing::MakeJob;
using testing::MakeScheduler;
using testing::Submitted;

// One instance held inside a first job's run until Release(), so that the
// jobs a test schedules next all wait in the queue together. Each later
// job records its name when answered: with batches of one, the order they
// ran in.
class HeldScheduler {
 public:
  explicit HeldScheduler(BatchingPolicy batching, int max_queue_size = 0,
                         std::map<uint64_t, int> level_max_queue_size = {}) {
    shared_.gate = &gate_;
    SchedulerOptions options;
    options.batching = std::move(batching);
    options.input_row_elements = testing::kRowElements;
    options.output_row_elements = testing::kRowElements;
    options.max_queue_size = max_queue_size;
    options.level_max_queue_size = std::move(level_max_queue_size);
    std::vector<std::unique_ptr<InstanceRunner>> runners;
    runners.push_back(std::make_unique<DoublingRunner>(&shared_));
    scheduler_ = std::make_unique<Scheduler>(std::move(options), std::move(runners));
    EXPECT_TRUE(scheduler_->Schedule(first_.job).ok());
    while (scheduler_->queue_depth() != 0) std::this_thread::yield();  // taken and held
  }
  ~HeldScheduler() { Release(); }

  // Schedules a one-row job at `level`, prepared by `prepare`; its name is
  // recorded when answered.
  template <typename Prepare>
  absl::Status ScheduleWith(const std::string& name, uint64_t level, Prepare prepare) {
    auto job = std::make_shared<InferenceJob>();
    job->rows = 1;
    job->input = JobInput(std::vector<float>(testing::kRowElements, 1.0f));
    job->priority_level = level;
    prepare(*job);
    job->done = [this, name, job = job.get()](absl::Status status) {
      std::lock_guard<std::mutex> lock(mutex_);
      answered_.push_back(name);
      statuses_[name] = status;
      batch_sizes_[name] = job->batch_size;
    };
    return scheduler_->Schedule(std::move(job));
  }
  absl::Status Schedule(const std::string& name, uint64_t level) {
    return ScheduleWith(name, level, [](InferenceJob&) {});
  }

  // Lets the held run finish; the queue drains.
  void Release() {
    if (!gate_.HasBeenNotified()) gate_.Notify();
  }
  // Stops the scheduler (every queued job is answered) and returns the
  // names in the order they were answered.
  std::vector<std::string> AnsweredAfterStop() {
    Release();
    scheduler_->Stop();
    EXPECT_TRUE(first_.result.get().ok());
    std::lock_guard<std::mutex> lock(mutex_);
    return answered_;
  }
  absl::Status status(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    return statuses_.at(name);
  }
  int batch_size(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    return batch_sizes_.at(name);
  }
  Scheduler& scheduler() { return *scheduler_; }

 private:
  DoublingRunner::Shared shared_;
  absl::Notification gate_;
  std::unique_ptr<Scheduler> scheduler_;
  Submitted first_ = MakeJob(1);
  std::mutex mutex_;
  std::vector<std::string> answered_;
  std::map<std::string, absl::Status> statuses_;
  std::map<std::string, int> batch_sizes_;
};

using Names = std::vector<std::string>;

TEST(SchedulerPriorityTest, QueuedJobsRunByLevelThenByArrival) {
  HeldScheduler held(Dynamic(1, 0));
  for (const auto& [name, level] : std::vector<std::pair<std::string, uint64_t>>{
           {"2a", 2}, {"1a", 1}, {"3a", 3}, {"1b", 1}, {"2b", 2}, {"1c", 1}}) {
    ASSERT_TRUE(held.Schedule(name, level).ok());
  }
  EXPECT_EQ(held.scheduler().queue_depth(), 6);
  EXPECT_EQ(held.AnsweredAfterStop(), (Names{"1a", "1b", "1c", "2a", "2b", "3a"}));
}

// More levels than the scheduler keeps once empty: they are dropped as
// they empty, by runs and by cancellations alike, and the order holds.
TEST(SchedulerPriorityTest, ManyLevelsDrainInOrder) {
  HeldScheduler held(Dynamic(1, 0));
  Names expected;
  for (uint64_t level = 20; level >= 1; --level) {
    const std::string name = absl::StrCat("level-", level);
    const bool cancel = level % 3 == 0;
    ASSERT_TRUE(
        held.ScheduleWith(name, level, [&](InferenceJob& job) { job.cancelled = cancel; }).ok());
  }
  for (uint64_t level = 3; level <= 20; level += 3) {
    expected.push_back(absl::StrCat("level-", level));  // swept first
  }
  for (uint64_t level = 1; level <= 20; ++level) {
    if (level % 3 != 0) expected.push_back(absl::StrCat("level-", level));
  }
  EXPECT_EQ(held.AnsweredAfterStop(), expected);
  EXPECT_EQ(held.scheduler().queue_depth(), 0);
  EXPECT_EQ(held.status("level-3").code(), absl::StatusCode::kCancelled);
}

TEST(SchedulerPriorityTest, ABatchTakesTheHighestLevelsFirst) {
  HeldScheduler held(Dynamic(2, 0));
  ASSERT_TRUE(held.Schedule("low-a", 2).ok());
  ASSERT_TRUE(held.Schedule("low-b", 2).ok());
  ASSERT_TRUE(held.Schedule("high", 1).ok());
  const Names answered = held.AnsweredAfterStop();
  ASSERT_EQ(answered.size(), 3u);
  EXPECT_EQ(answered.back(), "low-b");  // left out of the first batch of two
  EXPECT_EQ(held.batch_size("high"), 2);
  EXPECT_EQ(held.batch_size("low-a"), 2);
  EXPECT_EQ(held.batch_size("low-b"), 1);
}

void ExpectQueueFull(const absl::Status& status, const std::string& detail) {
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find(detail), std::string::npos) << status;
}

TEST(SchedulerPriorityTest, EachLevelHasItsOwnQueueLimit) {
  HeldScheduler held(Dynamic(1, 0), /*max_queue_size=*/1, /*level_max_queue_size=*/{{1, 2}});
  EXPECT_TRUE(held.Schedule("1a", 1).ok());
  EXPECT_TRUE(held.Schedule("1b", 1).ok());
  ExpectQueueFull(held.Schedule("1c", 1), "queue is full (max_queue_size 2 at priority level 1)");
  // Level 2 has the default limit, whatever level 1 holds.
  EXPECT_TRUE(held.Schedule("2a", 2).ok());
  ExpectQueueFull(held.Schedule("2b", 2), "queue is full (max_queue_size 1 at priority level 2)");
  EXPECT_EQ(held.AnsweredAfterStop(), (Names{"1a", "1b", "2a"}));
}

// Triton's timeout_action DELAY: a job whose queue timeout passes runs
// after the jobs of its level that did not time out, and before lower
// levels; REJECT (the default) fails it.
TEST(SchedulerPriorityTest, ATimedOutJobMarkedDelayRunsAfterItsLevel) {
  HeldScheduler held(Dynamic(1, 0));
  const TimePoint deadline = SteadyClock::now() + milliseconds(10);
  ASSERT_TRUE(held.ScheduleWith("delayed", 1,
                                [&](InferenceJob& job) {
                                  job.queue_deadline = deadline;
                                  job.delay_on_timeout = true;
                                })
                  .ok());
  ASSERT_TRUE(
      held.ScheduleWith("rejected", 1, [&](InferenceJob& job) { job.queue_deadline = deadline; })
          .ok());
  ASSERT_TRUE(held.Schedule("on-time", 1).ok());
  ASSERT_TRUE(held.Schedule("lower", 2).ok());
  std::this_thread::sleep_for(milliseconds(40));  // past the deadline, still held
  EXPECT_EQ(held.AnsweredAfterStop(), (Names{"rejected", "on-time", "delayed", "lower"}));
  EXPECT_TRUE(held.status("delayed").ok()) << held.status("delayed");
  EXPECT_EQ(held.status("rejected").code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(SchedulerPriorityTest, ADelayedJobCanStillBeCancelled) {
  DoublingRunner::Shared shared;
  // Would wait 10 s for company.
  auto scheduler = MakeScheduler(&shared, Dynamic(4, 10000, /*strict=*/true));
  Submitted s = MakeJob(1);
  s.job->priority_level = 1;
  s.job->queue_deadline = SteadyClock::now() + milliseconds(10);
  s.job->delay_on_timeout = true;
  ASSERT_TRUE(scheduler->Schedule(s.job).ok());
  std::this_thread::sleep_for(milliseconds(50));
  // Timed out and delayed, not rejected: still queued.
  EXPECT_EQ(s.result.wait_for(milliseconds(0)), std::future_status::timeout);
  EXPECT_EQ(scheduler->queue_depth(), 1);
  scheduler->Cancel(*s.job);
  ASSERT_EQ(s.result.wait_for(milliseconds(5000)), std::future_status::ready);
  EXPECT_EQ(s.result.get().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(scheduler->queue_depth(), 0);
  std::lock_guard<std::mutex> lock(shared.mutex);
  EXPECT_TRUE(shared.batch_sizes.empty());
}

// The batching delay counts from the oldest job that would join the batch,
// which a higher level's later arrival puts behind it: a high-priority job
// never makes a waiting one wait longer.
TEST(SchedulerPriorityTest, TheDelayCountsFromTheOldestJobInTheBatch) {
  DoublingRunner::Shared shared;
  constexpr int kDelayMs = 400;
  auto scheduler = MakeScheduler(&shared, Dynamic(4, kDelayMs, /*strict=*/true));
  Submitted low = MakeJob(1), high = MakeJob(1);
  low.job->priority_level = 2;
  high.job->priority_level = 1;
  ASSERT_TRUE(scheduler->Schedule(low.job).ok());
  std::this_thread::sleep_for(milliseconds(100));
  ASSERT_TRUE(scheduler->Schedule(high.job).ok());
  ASSERT_TRUE(low.result.get().ok());
  ASSERT_TRUE(high.result.get().ok());
  EXPECT_EQ(low.job->batch_size, 2);
  EXPECT_GE(low.job->times.queue_ns, kDelayMs * 1'000'000LL);
  // From its own arrival the delay would have ended 100 ms later.
  EXPECT_LT(high.job->times.queue_ns, (kDelayMs - 20) * 1'000'000LL);
}

}  // namespace
}  // namespace convd
