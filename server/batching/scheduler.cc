#include "server/batching/scheduler.h"

#include <algorithm>
#include <cstring>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"

namespace convd {
namespace {

int64_t Nanoseconds(TimePoint from, TimePoint to) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options, std::vector<std::unique_ptr<InstanceRunner>> runners)
    : options_(std::move(options)),
      instances_(runners.size()),
      last_run_ns_(std::max(1, options_.batching.max_batch_size) + 1, 0) {
  for (size_t i = 0; i < runners.size(); ++i) instances_[i].runner = std::move(runners[i]);
  threads_.reserve(instances_.size());
  for (Instance& instance : instances_) {
    threads_.emplace_back([this, &instance] { InstanceLoop(instance); });
  }
}

Scheduler::~Scheduler() { Stop(); }

absl::Status Scheduler::Schedule(JobPtr job) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) return absl::UnavailableError("model is being unloaded or the server is stopping");
  const uint64_t priority_level = job->priority_level;
  auto limit = options_.level_max_queue_size.find(priority_level);
  const int max_queue_size =
      limit != options_.level_max_queue_size.end() ? limit->second : options_.max_queue_size;
  Level& level = levels_[priority_level];
  if (max_queue_size > 0 && static_cast<int>(level.size()) >= max_queue_size) {
    return absl::UnavailableError(
        absl::StrCat("queue is full (max_queue_size ", max_queue_size,
                     priority_level > 0 ? absl::StrCat(" at priority level ", priority_level) : "",
                     "); retry later"));
  }
  const TimePoint now = SteadyClock::now();
  job->enqueued = now;
  company_.Record(queued_ > 0 || running_batches_ > 0);
  job->arrival = arrivals_++;
  level.waiting.push_back(std::move(job));
  ++queued_;
  if (Instance* instance = IdleInstanceForInlineRunLocked(now)) {
    // The batcher decides as for a queued job: run it alone now, or leave
    // it to wait for company.
    std::vector<JobPtr> batch;
    TakeBatchLocked(now, batch);
    if (!batch.empty()) {
      instance->busy = true;
      ++inline_runs_;
      lock.unlock();
      RunBatch(*instance, batch);
      lock.lock();
      if (--inline_runs_ == 0 && stopping_) changed_.notify_all();  // Stop() waits for it
      return absl::OkStatus();
    }
  }
  NotifyInstancesLocked();
  return absl::OkStatus();
}

Scheduler::Instance* Scheduler::IdleInstanceForInlineRunLocked(TimePoint now) {
  if (options_.inline_run_limit.count() <= 0 || stopping_ || queued_ != 1) return nullptr;
  const InferenceJob* only = nullptr;
  VisitQueuedLocked([&only](const InferenceJob& job) {
    only = &job;
    return false;
  });
  const InferenceJob& job = *only;
  if (job.rows < 1 || job.rows >= static_cast<int>(last_run_ns_.size())) return nullptr;
  const int64_t last_run_ns = last_run_ns_[job.rows];
  if (last_run_ns == 0 || last_run_ns > options_.inline_run_limit.count()) return nullptr;
  if (job.queue_deadline.has_value() && now >= *job.queue_deadline) return nullptr;  // swept
  auto idle = std::find_if(instances_.begin(), instances_.end(),
                           [](const Instance& instance) { return !instance.busy; });
  return idle == instances_.end() ? nullptr : &*idle;
}

void Scheduler::NotifyInstancesLocked() {
  // A thread whose instance an inline run holds would take the one wake-up
  // and wait on, so while one runs every thread is woken.
  if (inline_runs_ > 0) {
    changed_.notify_all();
  } else {
    changed_.notify_one();
  }
}

void Scheduler::Cancel(InferenceJob& job) {
  job.cancelled.store(true);
  std::lock_guard<std::mutex> lock(mutex_);
  changed_.notify_all();
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  std::call_once(joined_, [this] {
    for (std::thread& thread : threads_) thread.join();
  });
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return inline_runs_ == 0; });
}

int Scheduler::queue_depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_;
}

template <typename Visit>
void Scheduler::VisitQueuedLocked(Visit visit) const {
  for (const auto& [priority_level, level] : levels_) {
    for (const JobPtr& job : level.waiting) {
      if (!visit(*job)) return;
    }
    for (const JobPtr& job : level.delayed) {
      if (!visit(*job)) return;
    }
  }
}

void Scheduler::PopQueuedLocked(int count, std::vector<JobPtr>& batch) {
  for (auto it = levels_.begin(); it != levels_.end() && count > 0;) {
    for (std::deque<JobPtr>* jobs : {&it->second.waiting, &it->second.delayed}) {
      while (count > 0 && !jobs->empty()) {
        batch.push_back(std::move(jobs->front()));
        jobs->pop_front();
        --queued_;
        --count;
      }
    }
    it = EraseIfSpareLocked(it);
  }
}

std::map<uint64_t, Scheduler::Level>::iterator Scheduler::EraseIfSpareLocked(
    std::map<uint64_t, Level>::iterator level) {
  if (level->second.size() == 0 && levels_.size() > kKeptEmptyLevels) return levels_.erase(level);
  return std::next(level);
}

void Scheduler::SweepLocked(TimePoint now, std::vector<std::pair<JobPtr, absl::Status>>& rejected) {
  auto cancelled = [&](JobPtr& job) {
    if (!job->cancelled.load()) return false;
    rejected.emplace_back(std::move(job), absl::CancelledError("request cancelled by the client"));
    return true;
  };
  for (auto it = levels_.begin(); it != levels_.end(); it = EraseIfSpareLocked(it)) {
    Level& level = it->second;
    std::deque<JobPtr>& delayed = level.delayed;
    const size_t before = level.size();
    auto keep = std::remove_if(level.waiting.begin(), level.waiting.end(), [&](JobPtr& job) {
      if (cancelled(job)) return true;
      if (!job->queue_deadline.has_value() || now < *job->queue_deadline) return false;
      if (job->delay_on_timeout) {
        job->queue_deadline.reset();
        delayed.push_back(std::move(job));
      } else {
        rejected.emplace_back(
            std::move(job), absl::DeadlineExceededError(absl::StrCat(
                                "request timed out after ", Nanoseconds(job->enqueued, now) / 1000,
                                " us in the queue")));
      }
      return true;
    });
    level.waiting.erase(keep, level.waiting.end());
    // Jobs moved to `delayed` above are not cancelled: sweeping them again is harmless.
    delayed.erase(std::remove_if(delayed.begin(), delayed.end(), cancelled), delayed.end());
    queued_ -= static_cast<int>(before - level.size());
  }
}

TimePoint Scheduler::TakeBatchLocked(TimePoint now, std::vector<JobPtr>& batch) {
  if (queued_ == 0) return TimePoint::max();
  BatchingPolicy policy = options_.batching;
  if (stopping_) policy.max_queue_delay = std::chrono::microseconds(0);  // drain now
  // Only the requests that could join one batch matter to the decision;
  // the oldest of them sets its delay (with priorities, not always the first).
  const size_t window = std::min<size_t>(queued_, policy.max_batch_size + 1);
  absl::InlinedVector<int, 64> rows;
  TimePoint oldest_enqueued = TimePoint::max();
  VisitQueuedLocked([&](const InferenceJob& job) {
    rows.push_back(job.rows);
    oldest_enqueued = std::min(oldest_enqueued, job.enqueued);
    return rows.size() < window;
  });
  const BatchDecision decision =
      NextBatch(rows, oldest_enqueued, now, policy, company_.RequestsComeAlone());
  if (decision.take > 0) {
    PopQueuedLocked(decision.take, batch);
    ++running_batches_;
    if (queued_ > 0) NotifyInstancesLocked();  // another instance may take the rest
    return now;
  }
  TimePoint wake = decision.wait_until;
  VisitQueuedLocked([&wake](const InferenceJob& job) {
    if (job.queue_deadline.has_value()) wake = std::min(wake, *job.queue_deadline);
    return true;
  });
  return wake;
}

void Scheduler::InstanceLoop(Instance& instance) {
  std::vector<JobPtr> batch;
  std::vector<std::pair<JobPtr, absl::Status>> rejected;
  for (;;) {
    bool exit = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      for (;;) {
        const TimePoint now = SteadyClock::now();
        SweepLocked(now, rejected);
        if (!rejected.empty()) break;  // answer them before anything else
        // While an inline run holds the instance, its end wakes this thread.
        const TimePoint wake = instance.busy ? TimePoint::max() : TakeBatchLocked(now, batch);
        if (!batch.empty()) {
          instance.busy = true;
          break;
        }
        if (queued_ == 0 && stopping_) {
          exit = true;
          break;
        }
        if (wake == TimePoint::max()) {
          changed_.wait(lock);
        } else {
          changed_.wait_until(lock, wake);
        }
      }
    }
    for (auto& [job, status] : rejected) Answer(std::move(job), std::move(status));
    rejected.clear();
    if (!batch.empty()) RunBatch(instance, batch);
    batch.clear();
    if (exit) return;
  }
}

void Scheduler::RunBatch(Instance& instance, std::vector<JobPtr>& batch) {
  InstanceRunner& runner = *instance.runner;
  std::vector<float>& gather = instance.gather;
  Tensor& output = instance.output;
  const TimePoint start = SteadyClock::now();
  int rows = 0;
  bool want_stats = false;
  for (const JobPtr& job : batch) {
    rows += job->rows;
    want_stats |= job->want_layer_stats;
  }
  // The rows go straight to where the runner reads them (one copy), or a
  // lone job's input is used in place.
  const float* input = batch.front()->input.data();
  float* destination = runner.InputBuffer(rows);
  if (destination == nullptr && batch.size() > 1) {
    gather.resize(static_cast<size_t>(rows) * options_.input_row_elements);
    destination = gather.data();
  }
  if (destination != nullptr) {
    float* cursor = destination;
    for (const JobPtr& job : batch) {
      std::memcpy(cursor, job->input.data(), job->input.size() * sizeof(float));
      cursor += job->input.size();
    }
    input = destination;
  }
  const TimePoint gathered = SteadyClock::now();
  ModelStats stats;
  absl::Status status = runner.Run(input, rows, output, want_stats ? &stats : nullptr);
  const TimePoint inferred = SteadyClock::now();
  if (status.ok()) {
    const float* cursor = output.data();
    for (const JobPtr& job : batch) {
      const int64_t count = job->rows * options_.output_row_elements;
      job->output.assign(cursor, cursor + count);
      cursor += count;
    }
  }
  const TimePoint scattered = SteadyClock::now();
  {
    // Before the answers go out: a client's next request must find this
    // batch no longer counted as company, and the instance free.
    std::lock_guard<std::mutex> lock(mutex_);
    --running_batches_;
    if (status.ok() && rows < static_cast<int>(last_run_ns_.size())) {
      last_run_ns_[rows] = std::max<int64_t>(1, Nanoseconds(start, scattered));
    }
    instance.busy = false;
    if (queued_ > 0) NotifyInstancesLocked();
  }
  JobTimes times;
  times.compute_input_ns = Nanoseconds(start, gathered);
  times.compute_infer_ns = Nanoseconds(gathered, inferred);
  times.compute_output_ns = Nanoseconds(inferred, scattered);
  if (status.ok() && options_.observer != nullptr) {
    options_.observer->RecordExecution(rows, times);
  }
  for (const JobPtr& job : batch) {
    job->batch_size = rows;
    job->times = times;
    job->times.queue_ns = Nanoseconds(job->enqueued, start);
    if (job->want_layer_stats && status.ok()) job->layer_stats = stats;
    Answer(job, status);
  }
}

void Scheduler::Answer(JobPtr job, absl::Status status) {
  if (!options_.preserve_ordering) {
    job->done(std::move(status));
    return;
  }
  std::unique_lock<std::mutex> lock(answer_mutex_);
  const uint64_t arrival = job->arrival;
  finished_.emplace(arrival, std::make_pair(std::move(job), std::move(status)));
  // One thread at a time answers, so that `done`s run in order; another
  // that finishes meanwhile leaves its job for that one.
  if (answering_) return;
  answering_ = true;
  for (auto next = finished_.find(next_answer_); next != finished_.end();
       next = finished_.find(next_answer_)) {
    auto [ready, ready_status] = std::move(next->second);
    finished_.erase(next);
    ++next_answer_;
    lock.unlock();
    ready->done(std::move(ready_status));
    ready.reset();
    lock.lock();
  }
  answering_ = false;
}

}  // namespace convd
