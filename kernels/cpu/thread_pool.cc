#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>

namespace convd {

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
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
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
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
  std::mutex mutex;
  std::condition_variable done_signal;
  int64_t chunks_done = 0;
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
    state.chunks_done += finished;
    if (state.chunks_done == state.chunks) state.done_signal.notify_all();
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
  }
  wake_.notify_all();
  RunChunks(*state, fn, 0);
  std::unique_lock<std::mutex> lock(state->mutex);
  state->done_signal.wait(lock, [&] { return state->chunks_done == state->chunks; });
}

ThreadPool* ThreadPool::Default() {
  static ThreadPool* pool =
      new ThreadPool(static_cast<int>(std::thread::hardware_concurrency()));
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
