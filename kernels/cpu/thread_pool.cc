#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>

namespace convd {
namespace {

// Tells the core this thread is polling (x86's PAUSE: it yields the
// core's resources to its SMT sibling and saves power).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls `ready` for up to `spin`, or until `keep_polling` turns false;
// whether `ready` became true.
template <typename Ready, typename KeepPolling>
bool SpinUntil(std::chrono::microseconds spin, Ready ready, KeepPolling keep_polling) {
  if (ready()) return true;
  if (spin.count() <= 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + spin;
  while (keep_polling()) {
    // The clock is read every 64 polls: a read costs about as much as
    // the polls between.
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  return ready();
}

}  // namespace

ThreadPool::ThreadPool(int num_threads, std::chrono::microseconds spin)
    : num_threads_(std::max(1, num_threads)), spin_(std::max(spin, std::chrono::microseconds(0))) {
  for (int i = 1; i < num_threads_; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::WorkerLoop() {
  while (true) {
    // Within a burst (a forward pass), the next loop finds this thread
    // still polling, not asleep: no wake-up to wait for. Outside one it
    // sleeps at once, leaving the core to other threads (gRPC's).
    SpinUntil(
        spin_, [this] { return queued_.load(std::memory_order_acquire) > 0; },
        [this] { return bursts_.load(std::memory_order_relaxed) > 0; });
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
    }
    task();
  }
}

namespace {

// Shared by the caller and its helpers; helpers that start after the work is
// gone only touch `next_chunk`, which the shared_ptr keeps alive.
struct ParallelForState {
  int64_t count = 0;
  int64_t chunks = 0;
  std::atomic<int64_t> next_chunk{0};
  std::atomic<int> next_slot{1};
  // Written with `mutex` held (a waiter checks it under the mutex), read
  // without it by a caller polling for the end.
  std::atomic<int64_t> chunks_done{0};
  std::mutex mutex;
  std::condition_variable done_signal;
};

void RunChunks(ParallelForState& state, const ThreadPool::RangeFn& fn, int slot) {
  int64_t finished = 0;
  while (true) {
    const int64_t chunk = state.next_chunk.fetch_add(1);
    if (chunk >= state.chunks) break;
    const int64_t begin = chunk * state.count / state.chunks;
    const int64_t end = (chunk + 1) * state.count / state.chunks;
    fn(begin, end, slot);
    ++finished;
  }
  if (finished > 0) {
    std::lock_guard<std::mutex> lock(state.mutex);
    if (state.chunks_done.fetch_add(finished, std::memory_order_release) + finished ==
        state.chunks) {
      state.done_signal.notify_all();
    }
  }
}

}  // namespace

void ThreadPool::ParallelFor(int64_t count, int64_t work_per_item, const RangeFn& fn) {
  if (count <= 0) return;
  // A few chunks per thread balance uneven work without much overhead; none
  // smaller than kMinWorkPerChunk.
  const int64_t work = std::max<int64_t>(work_per_item, 1);
  const int64_t min_items_per_chunk = (kMinWorkPerChunk + work - 1) / work;
  const int64_t chunks = std::min(
      {count, int64_t{num_threads_} * 4, std::max<int64_t>(count / min_items_per_chunk, 1)});
  if (num_threads_ == 1 || chunks == 1) {
    fn(0, count, 0);
    return;
  }
  auto state = std::make_shared<ParallelForState>();
  state->count = count;
  state->chunks = chunks;
  const int helpers = static_cast<int>(
      std::min<int64_t>(num_threads_ - 1, state->chunks - 1));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int i = 0; i < helpers; ++i) {
      tasks_.emplace_back([state, &fn] {
        if (state->next_chunk.load() >= state->chunks) return;
        RunChunks(*state, fn, state->next_slot.fetch_add(1));
      });
    }
    queued_.fetch_add(helpers, std::memory_order_release);
  }
  // No system call when every worker is polling (glibc skips the futex
  // wake without sleepers).
  wake_.notify_all();
  RunChunks(*state, fn, 0);
  auto all_done = [&] {
    return state->chunks_done.load(std::memory_order_acquire) == state->chunks;
  };
  // The helpers' chunks are under way: polling for their end saves the
  // wake-up that would follow it.
  if (SpinUntil(spin_, all_done, [] { return true; })) return;
  std::unique_lock<std::mutex> lock(state->mutex);
  state->done_signal.wait(lock, all_done);
}

ThreadPool::Burst::Burst(ThreadPool* pool) : pool_(pool) {
  if (pool_ != nullptr) pool_->bursts_.fetch_add(1, std::memory_order_relaxed);
}

ThreadPool::Burst::~Burst() {
  if (pool_ != nullptr) pool_->bursts_.fetch_sub(1, std::memory_order_relaxed);
}

ThreadPool* ThreadPool::Default() {
  static ThreadPool* pool =
      new ThreadPool(static_cast<int>(std::thread::hardware_concurrency()), kDefaultSpin);
  return pool;
}

void ParallelFor(ThreadPool* pool, int64_t count, int64_t work_per_item,
                 const ThreadPool::RangeFn& fn) {
  if (pool == nullptr) {
    if (count > 0) fn(0, count, 0);
    return;
  }
  pool->ParallelFor(count, work_per_item, fn);
}

}  // namespace convd
