#include "server/batching/scheduler.h"

#include <atomic>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "server/batching/testing/doubling_runner.h"

namespace convd {
namespace {

using std::chrono::milliseconds;
using testing::DoublingRunner;
using testing::Dynamic;
using testing::kRowElements;
using testing::MakeJob;
using testing::MakeScheduler;
using testing::Submitted;

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
  auto scheduler = MakeScheduler(&shared, Dynamic(8, kDelayMs, /*strict=*/true));
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

void WaitUntilRunning(DoublingRunner::Shared& shared, int runs) {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(shared.mutex);
      if (shared.running == runs) return;
    }
    std::this_thread::yield();
  }
}

// Two instances; the first job is held in its run while the second runs
// on the other instance. Without preserve_ordering the second is answered
// first; with it, only after the first.
TEST(SchedulerTest, PreserveOrderingAnswersInTheOrderJobsWereTaken) {
  for (const bool preserve_ordering : {false, true}) {
    SCOPED_TRACE(preserve_ordering ? "preserve_ordering" : "completion order");
    DoublingRunner::Shared shared;
    absl::Notification gate;
    shared.gate = &gate;
    shared.gated_first_value = 42.0f;
    SchedulerOptions options;
    options.batching = Dynamic(1, 0);
    options.input_row_elements = kRowElements;
    options.output_row_elements = kRowElements;
    options.preserve_ordering = preserve_ordering;
    std::vector<std::unique_ptr<InstanceRunner>> runners;
    for (int i = 0; i < 2; ++i) runners.push_back(std::make_unique<DoublingRunner>(&shared));
    Scheduler scheduler(std::move(options), std::move(runners));

    std::vector<float> held_input(kRowElements, 1.0f);
    held_input[0] = 42.0f;
    Submitted held = MakeJob(1), quick = MakeJob(1);
    held.job->input = JobInput(std::move(held_input));
    ASSERT_TRUE(scheduler.Schedule(held.job).ok());
    WaitUntilRunning(shared, 1);
    ASSERT_TRUE(scheduler.Schedule(quick.job).ok());
    if (preserve_ordering) {
      // Ran on the other instance, and waits to be answered.
      for (;;) {
        std::lock_guard<std::mutex> lock(shared.mutex);
        if (shared.batch_sizes.size() == 2 && shared.running == 1) break;
      }
      EXPECT_EQ(quick.result.wait_for(milliseconds(100)), std::future_status::timeout);
    } else {
      EXPECT_EQ(quick.result.wait_for(milliseconds(5000)), std::future_status::ready);
    }
    gate.Notify();
    ASSERT_TRUE(held.result.get().ok());
    ASSERT_TRUE(quick.result.get().ok());
    for (size_t i = 0; i < quick.job->input.size(); ++i) {
      EXPECT_EQ(quick.job->output[i], 2.0f * quick.job->input[i]);
    }
    EXPECT_EQ(held.job->output[0], 84.0f);
  }
}

// Inline runs (SchedulerOptions::inline_run_limit).

std::unique_ptr<Scheduler> MakeInlineScheduler(DoublingRunner::Shared* shared,
                                               BatchingPolicy batching,
                                               std::chrono::nanoseconds inline_run_limit,
                                               int instances = 1) {
  return MakeScheduler(shared, std::move(batching), instances, /*max_queue_size=*/0,
                       inline_run_limit);
}

// A job whose `done` notes the thread that called it in `*thread`.
Submitted MakeJobNotingThread(int rows, std::shared_ptr<std::thread::id> thread) {
  Submitted s = MakeJob(rows);
  s.job->done = [thread, done = std::move(s.job->done)](absl::Status status) mutable {
    *thread = std::this_thread::get_id();
    done(std::move(status));
  };
  return s;
}

struct Answer {
  absl::Status status;
  std::thread::id thread;
  bool ready_when_scheduled = false;  // answered before Schedule() returned
};

// Schedules one job of `rows` from this thread and waits for its answer.
Answer ScheduleAndWait(Scheduler& scheduler, Submitted s, std::shared_ptr<std::thread::id> thread) {
  Answer answer;
  answer.status = scheduler.Schedule(s.job);
  if (!answer.status.ok()) return answer;
  answer.ready_when_scheduled = s.result.wait_for(milliseconds(0)) == std::future_status::ready;
  answer.status = s.result.get();
  answer.thread = *thread;
  for (size_t i = 0; i < s.job->input.size(); ++i) {
    EXPECT_EQ(s.job->output[i], 2.0f * s.job->input[i]);
  }
  EXPECT_EQ(s.job->output.size(), s.job->input.size());
  return answer;
}

Answer ScheduleAndWait(Scheduler& scheduler, int rows) {
  auto thread = std::make_shared<std::thread::id>();
  return ScheduleAndWait(scheduler, MakeJobNotingThread(rows, thread), thread);
}

TEST(SchedulerInlineTest, AShortBatchRunsOnTheSchedulingThreadOnceItsSizeHasRun) {
  DoublingRunner::Shared shared;
  auto scheduler = MakeInlineScheduler(&shared, Dynamic(8, 0), std::chrono::seconds(10));
  const std::thread::id self = std::this_thread::get_id();
  // Batch size 1 has not run yet: its time is unknown, so the instance runs it.
  const Answer first = ScheduleAndWait(*scheduler, 1);
  ASSERT_TRUE(first.status.ok()) << first.status;
  EXPECT_NE(first.thread, self);
  const Answer second = ScheduleAndWait(*scheduler, 1);
  ASSERT_TRUE(second.status.ok()) << second.status;
  EXPECT_EQ(second.thread, self);
  EXPECT_TRUE(second.ready_when_scheduled);
  // A size that has not run goes to the instance, then runs inline.
  EXPECT_NE(ScheduleAndWait(*scheduler, 3).thread, self);
  EXPECT_EQ(ScheduleAndWait(*scheduler, 3).thread, self);
  std::lock_guard<std::mutex> lock(shared.mutex);
  EXPECT_EQ(shared.batch_sizes, std::vector<int>({1, 1, 3, 3}));
}

TEST(SchedulerInlineTest, NoInlineRunWhenTheLimitIsZeroOrTheRunsAreLonger) {
  for (const std::chrono::nanoseconds limit :
       {std::chrono::nanoseconds(0), std::chrono::nanoseconds(1)}) {
    DoublingRunner::Shared shared;
    auto scheduler = MakeInlineScheduler(&shared, Dynamic(8, 0), limit);
    for (int i = 0; i < 4; ++i) {
      const Answer answer = ScheduleAndWait(*scheduler, 1);
      ASSERT_TRUE(answer.status.ok()) << answer.status;
      EXPECT_NE(answer.thread, std::this_thread::get_id()) << "limit " << limit.count() << " ns";
    }
  }
}

TEST(SchedulerInlineTest, AJobThatWouldWaitForCompanyIsQueued) {
  DoublingRunner::Shared shared;
  constexpr int kDelayMs = 15;
  auto scheduler =
      MakeInlineScheduler(&shared, Dynamic(8, kDelayMs, /*strict=*/true), std::chrono::seconds(10));
  for (int i = 0; i < 3; ++i) {
    auto thread = std::make_shared<std::thread::id>();
    Submitted s = MakeJobNotingThread(1, thread);
    std::shared_ptr<InferenceJob> job = s.job;
    const Answer answer = ScheduleAndWait(*scheduler, std::move(s), thread);
    ASSERT_TRUE(answer.status.ok()) << answer.status;
    EXPECT_NE(answer.thread, std::this_thread::get_id());
    EXPECT_GE(job->times.queue_ns, kDelayMs * 1'000'000);
  }
}

// Runs one size-1 job so that later ones may run inline, then closes
// `gate` in front of every run.
void PrimeThenGate(Scheduler& scheduler, DoublingRunner::Shared& shared, absl::Notification* gate) {
  ASSERT_TRUE(ScheduleAndWait(scheduler, 1).status.ok());
  std::lock_guard<std::mutex> lock(shared.mutex);
  shared.gate = gate;
  shared.batch_sizes.clear();
}

// One instance, whose size-1 run made later ones eligible, now running a
// job inline on `caller`, held there at `gate` until Release().
struct HeldInlineRun {
  HeldInlineRun() {
    PrimeThenGate(*scheduler, shared, &gate);
    caller = std::thread([this] { answer = ScheduleAndWait(*scheduler, 1); });
    WaitUntilRunning(shared, 1);
  }
  ~HeldInlineRun() { Release(); }  // a failed assertion may return early
  void Release() {
    if (!gate.HasBeenNotified()) gate.Notify();
    if (caller.joinable()) caller.join();
  }

  DoublingRunner::Shared shared;
  absl::Notification gate;
  std::unique_ptr<Scheduler> scheduler =
      MakeInlineScheduler(&shared, Dynamic(1, 0), std::chrono::seconds(10));
  Answer answer;
  std::thread caller;
};

TEST(SchedulerInlineTest, AnInlineRunHoldsItsInstanceAndHandsOnTheQueueWhenDone) {
  HeldInlineRun held;
  Submitted queued = MakeJob(1);
  ASSERT_TRUE(held.scheduler->Schedule(queued.job).ok());  // returns: the instance is taken
  EXPECT_EQ(queued.result.wait_for(milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(held.scheduler->queue_depth(), 1);
  held.Release();
  ASSERT_TRUE(held.answer.status.ok()) << held.answer.status;
  EXPECT_TRUE(held.answer.ready_when_scheduled);
  ASSERT_EQ(queued.result.wait_for(milliseconds(5000)), std::future_status::ready);
  EXPECT_TRUE(queued.result.get().ok());
  std::lock_guard<std::mutex> lock(held.shared.mutex);
  EXPECT_EQ(held.shared.max_running, 1) << "two runs at once on one instance";
  EXPECT_EQ(held.shared.batch_sizes, std::vector<int>({1, 1}));
}

TEST(SchedulerInlineTest, StopWaitsForAnInlineRun) {
  HeldInlineRun held;
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    held.scheduler->Stop();
    stopped = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(stopped.load()) << "Stop() returned while a run was in progress";
  held.Release();
  stopper.join();
  EXPECT_TRUE(held.answer.status.ok()) << held.answer.status;
  EXPECT_EQ(held.scheduler->Schedule(MakeJob(1).job).code(), absl::StatusCode::kUnavailable);
}

// Many callers, two instances, inline runs mixed with handed-off ones: each
// job gets its own rows back exactly once (and TSan sees the hand-overs).
TEST(SchedulerInlineTest, ConcurrentCallersEachGetTheirOwnRows) {
  DoublingRunner::Shared shared;
  auto scheduler =
      MakeInlineScheduler(&shared, Dynamic(4, 0), std::chrono::seconds(10), /*instances=*/2);
  constexpr int kCallers = 4, kJobsEach = 100;
  std::atomic<int> failures{0}, inline_runs{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int i = 0; i < kJobsEach; ++i) {
        const Answer answer = ScheduleAndWait(*scheduler, 1 + (c + i) % 2);
        failures += !answer.status.ok();
        inline_runs += answer.thread == std::this_thread::get_id();
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(inline_runs.load(), 0);
  std::lock_guard<std::mutex> lock(shared.mutex);
  EXPECT_LE(shared.max_running, 2);
}

}  // namespace
}  // namespace convd
