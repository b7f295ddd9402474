// Per-model request queue and the model instances that drain it in
// dynamically formed batches (batch_formation.h).
//
// Contract:
//  - Schedule() takes the job only when it returns OK; it returns
//    UNAVAILABLE when the queue is full or the scheduler is stopping, and
//    the caller still owns the job. It blocks only to run a short batch
//    inline (SchedulerOptions::inline_run_limit), never to wait.
//  - Queued jobs run by priority level (InferenceJob::priority_level, the
//    lowest number first), in arrival order within a level; a batch takes
//    them in that order (batch_formation.h). A level's max_queue_size counts
//    only its own jobs. Lower levels wait for as long as higher ones keep
//    coming (Triton's rule); their queue timeouts bound that.
//  - Every scheduled job's `done` is called exactly once: OK with the
//    outputs filled in, DEADLINE_EXCEEDED when its queue timeout passed
//    first (unless it asked to be delayed instead: then it moves behind the
//    jobs of its level that have not timed out, and runs), CANCELLED when
//    Cancel() dropped it from the queue (a job already running completes
//    normally), or the runner's error. It is called from an instance
//    thread, or from inside Schedule() when the job ran inline. The
//    scheduler keeps its reference until `done` returns.
//  - With SchedulerOptions::preserve_ordering, `done` is called in the
//    order Schedule() took the jobs, whatever order they finish in (and
//    whatever their priority levels): a job finished early waits for the
//    ones taken before it, and is answered by the thread that answers the
//    last of those.
//  - Stop() refuses new jobs, runs every queued job without waiting for
//    batching delays, then joins the instance threads. The destructor stops.
//
// Thread safety: all methods may be called from any thread.
//
//   auto job = std::make_shared<InferenceJob>();
//   job->rows = 1; job->input = ...; job->done = [](absl::Status s) {...};
//   RETURN_IF_ERROR(scheduler.Schedule(job));
#ifndef CONVD_SERVER_BATCHING_SCHEDULER_H_
#define CONVD_SERVER_BATCHING_SCHEDULER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "engine/stats.h"
#include "engine/tensor.h"
#include "server/batching/batch_formation.h"
#include "server/batching/job_input.h"

namespace convd {

// Bytes of memory by where they live (Triton's MemoryUsage types CPU,
// CPU_PINNED and GPU).
struct MemoryUse {
  int64_t host_bytes = 0;
  int64_t pinned_bytes = 0;  // page-locked host memory for device copies
  int64_t device_bytes = 0;

  MemoryUse& operator+=(const MemoryUse& other) {
    host_bytes += other.host_bytes;
    pinned_bytes += other.pinned_bytes;
    device_bytes += other.device_bytes;
    return *this;
  }
};

// Runs one batch on one model instance (the CPU executor or the GPU's).
// Run and InputBuffer are called from one thread at a time, not always the
// same one (the instance's thread, or one that runs a short batch inline);
// Reserve and memory() before the runner is handed to a Scheduler.
class InstanceRunner {
 public:
  virtual ~InstanceRunner() = default;
  // `input` holds batch rows of the model input; `output` is resized to
  // batch rows of the output. `stats`, when not null, receives the
  // per-layer table with measured times.
  virtual absl::Status Run(const float* input, int batch, Tensor& output, ModelStats* stats) = 0;
  // Memory for `batch` input rows that Run reads without copying them
  // first (the GPU's pinned staging buffer), for the scheduler to gather a
  // batch's rows into; null where there is none (then Run's input is any
  // memory, copied as needed). Valid until the next call of either.
  virtual float* InputBuffer(int batch) { return nullptr; }
  // Allocates what batches up to `max_batch` need, so that a model whose
  // instance cannot hold its largest batch fails at load
  // (RESOURCE_EXHAUSTED), not on a request.
  virtual absl::Status Reserve(int max_batch) { return absl::OkStatus(); }
  // What the instance holds beyond the model's shared host weights.
  virtual MemoryUse memory() const { return {}; }
};

// Time spent on a job's batch, in nanoseconds.
struct JobTimes {
  int64_t queue_ns = 0;           // arrival to the start of its batch
  int64_t compute_input_ns = 0;   // gathering the batch's input
  int64_t compute_infer_ns = 0;   // the forward pass
  int64_t compute_output_ns = 0;  // scattering the outputs
};

struct InferenceJob {
  // Filled by the caller before Schedule().
  int rows = 1;              // in [1, max_batch_size]
  JobInput input;            // rows x input row elements
  bool want_layer_stats = false;
  // Lower levels run first; 0 where the model has no priority levels.
  uint64_t priority_level = 0;
  std::optional<TimePoint> queue_deadline;  // DEADLINE_EXCEEDED if still queued then
  // Still queued at queue_deadline: true moves it behind its level's jobs
  // that have not timed out (Triton's timeout_action DELAY) instead.
  bool delay_on_timeout = false;
  absl::AnyInvocable<void(absl::Status)> done;

  // Set by the scheduler before `done`.
  TimePoint enqueued;
  uint64_t arrival = 0;       // the order Schedule() took it in
  std::vector<float> output;  // rows x output row elements
  int batch_size = 0;         // rows of the batch this job ran in
  JobTimes times;
  ModelStats layer_stats;  // when want_layer_stats

  std::atomic<bool> cancelled{false};
};

// Batch-level statistics sink (the model's statistics recorder).
class ExecutionObserver {
 public:
  virtual ~ExecutionObserver() = default;
  virtual void RecordExecution(int batch_size, const JobTimes& times) = 0;
};

struct SchedulerOptions {
  BatchingPolicy batching;
  int64_t input_row_elements = 0;   // C*H*W of the model input
  int64_t output_row_elements = 0;  // elements of one output row
  // Requests waiting (not running) at one priority level beyond which
  // Schedule() refuses; 0: none. level_max_queue_size overrides it for the
  // levels it names.
  int max_queue_size = 0;
  std::map<uint64_t, int> level_max_queue_size;
  // A job that finds nothing queued, an instance idle and the batcher
  // ready to run it alone runs on the thread that schedules it, inside
  // Schedule(), when its batch size last ran in at most this long. That
  // saves the hand-off to the instance's thread (a thread wake-up on the
  // way in, another on the way out where the answer is written) at the
  // cost of holding the caller's thread for the run. 0: never.
  std::chrono::nanoseconds inline_run_limit{0};
  // Answers in the order jobs were scheduled (Triton's preserve_ordering):
  // what a stream's client sees when instances or priorities would
  // otherwise finish later requests first.
  bool preserve_ordering = false;
  ExecutionObserver* observer = nullptr;  // may be null; must outlive this
};

class Scheduler {
 public:
  // One thread per runner; runners run batches concurrently.
  Scheduler(SchedulerOptions options, std::vector<std::unique_ptr<InstanceRunner>> runners);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  absl::Status Schedule(std::shared_ptr<InferenceJob> job);
  // Marks the job cancelled; a queued job is dropped with CANCELLED.
  void Cancel(InferenceJob& job);
  void Stop();

  int queue_depth() const;

 private:
  using JobPtr = std::shared_ptr<InferenceJob>;

  // A runner and the buffers its batches reuse, held by one thread at a
  // time: the one that set `busy`.
  struct Instance {
    std::unique_ptr<InstanceRunner> runner;
    bool busy = false;  // guarded by mutex_
    std::vector<float> gather;
    Tensor output;
  };

  // The jobs of one priority level, in the order they run.
  struct Level {
    std::deque<JobPtr> waiting;
    std::deque<JobPtr> delayed;  // timed out with delay_on_timeout, behind `waiting`
    size_t size() const { return waiting.size() + delayed.size(); }
  };
  // Emptied levels are kept (their deques' memory with them) while there
  // are at most this many; past that they are dropped, so that requests
  // spread over many levels leave no memory behind.
  static constexpr size_t kKeptEmptyLevels = 8;

  void InstanceLoop(Instance& instance);
  // Calls visit(job) for the queued jobs in the order they run, until it
  // returns false.
  template <typename Visit>
  void VisitQueuedLocked(Visit visit) const;
  // Moves the first `count` queued jobs, in run order, to `batch`.
  void PopQueuedLocked(int count, std::vector<JobPtr>& batch);
  // Erases `level` if it is empty and more than kKeptEmptyLevels exist;
  // returns the level after it.
  std::map<uint64_t, Level>::iterator EraseIfSpareLocked(std::map<uint64_t, Level>::iterator level);
  // An idle instance when the queue holds only the job just scheduled and
  // that job may run inline (its size's last run within the limit) if the
  // batcher takes it now.
  Instance* IdleInstanceForInlineRunLocked(TimePoint now);
  // Wakes an instance thread that can take queued work.
  void NotifyInstancesLocked();
  // Moves cancelled and timed-out jobs from the queue to `rejected`.
  void SweepLocked(TimePoint now, std::vector<std::pair<JobPtr, absl::Status>>& rejected);
  // Picks the next batch into `batch`, or returns when the caller should
  // wait; returns the time to wait until (max: until notified).
  TimePoint TakeBatchLocked(TimePoint now, std::vector<JobPtr>& batch);
  // Runs the batch on the instance its caller holds, answers its jobs and
  // releases the instance.
  void RunBatch(Instance& instance, std::vector<JobPtr>& batch);
  // Calls the job's `done`, at once or, preserving order, once every job
  // taken before it has been answered.
  void Answer(JobPtr job, absl::Status status);

  const SchedulerOptions options_;
  std::vector<Instance> instances_;  // fixed at construction
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<uint64_t, Level> levels_;  // by priority level; guarded by mutex_
  int queued_ = 0;                    // jobs in levels_; guarded by mutex_
  int running_batches_ = 0;   // taken from the queue, not yet answered; guarded by mutex_
  int inline_runs_ = 0;       // batches running inside Schedule(); guarded by mutex_
  // By batch rows: how long that size's last batch took; 0: none ran yet.
  std::vector<int64_t> last_run_ns_;  // guarded by mutex_
  CompanyForecast company_;   // guarded by mutex_
  bool stopping_ = false;     // guarded by mutex_
  uint64_t arrivals_ = 0;     // jobs taken; guarded by mutex_

  // Jobs finished out of order, waiting for the ones before them
  // (preserve_ordering).
  std::mutex answer_mutex_;
  std::map<uint64_t, std::pair<JobPtr, absl::Status>> finished_;  // guarded by answer_mutex_
  uint64_t next_answer_ = 0;                                      // guarded by answer_mutex_
  bool answering_ = false;  // a thread is calling `done`s in order; guarded by answer_mutex_

  std::vector<std::thread> threads_;
  std::once_flag joined_;
};

}  // namespace convd

#endif  // CONVD_SERVER_BATCHING_SCHEDULER_H_
