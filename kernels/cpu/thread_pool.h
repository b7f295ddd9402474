// A fixed pool of worker threads for data-parallel loops. The calling thread
// takes part, so ParallelFor may be called from several threads at once and
// from inside another ParallelFor without deadlock.
//
//   ThreadPool pool(2);
//   pool.ParallelFor(rows, /*work_per_item=*/cols, [&](int64_t begin, int64_t end, int slot) {
//     for (int64_t i = begin; i < end; ++i) Work(i, scratch[slot]);
//   });
#ifndef CONVD_KERNELS_CPU_THREAD_POOL_H_
#define CONVD_KERNELS_CPU_THREAD_POOL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace convd {

class ThreadPool {
 public:
  // How long a thread out of work polls for more before it sleeps: a
  // caller waiting for its helpers' chunks to finish, and, within a Burst,
  // a worker between loops. Waking a sleeping thread cost 20-40 us on the
  // 2-core VM, as much as a small layer (bench/RESULTS.md, "the thread
  // pool polls before it sleeps").
  static constexpr std::chrono::microseconds kDefaultSpin{50};

  // `num_threads` counts the caller: num_threads - 1 workers are started.
  // `spin`: how long an idle thread polls before it sleeps; 0 sleeps at
  // once (no CPU spent polling, for hosts shared with other work).
  explicit ThreadPool(int num_threads, std::chrono::microseconds spin = kDefaultSpin);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Splits [0, count) into contiguous chunks and calls fn(begin, end, slot)
  // for each; returns when all are done. `slot` in [0, num_threads()) is
  // unique among the chunks running at the same moment within this call, so
  // it can index per-thread scratch space. `work_per_item` estimates one
  // item's single-thread time in nanoseconds (kernels/cpu/work_estimate.h):
  // a chunk gets at least kMinWorkPerChunk of it, so a small loop runs
  // inline on the caller instead of paying a thread's wake-up.
  using RangeFn = std::function<void(int64_t begin, int64_t end, int slot)>;
  void ParallelFor(int64_t count, int64_t work_per_item, const RangeFn& fn);

  // The least work (ns) worth handing to another thread. On the 2-core VM
  // (bench/RESULTS.md, "Thread pool hand-off"), eight 2 us items ran slower
  // handed off than inline, eight 19 us items 1.29x faster.
  static constexpr int64_t kMinWorkPerChunk = 50'000;

  // While one lives (on any thread), idle workers poll for the next loop
  // for up to the pool's spin instead of sleeping at once: for loops that
  // come back to back, a forward pass's layers. Outside bursts they sleep
  // as soon as they run out of work, so a server's other threads (gRPC's,
  // a small model's many requests) keep the cores. `pool` may be null.
  class Burst {
   public:
    explicit Burst(ThreadPool* pool);
    ~Burst();
    Burst(const Burst&) = delete;
    Burst& operator=(const Burst&) = delete;

   private:
    ThreadPool* const pool_;
  };

  // One pool per process, sized to the hardware (at least 1).
  static ThreadPool* Default();

 private:
  void WorkerLoop();

  const int num_threads_;
  const std::chrono::microseconds spin_;
  // tasks_.size(), read without the mutex by polling workers.
  std::atomic<int> queued_{0};
  // Live Burst objects.
  std::atomic<int> bursts_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// ParallelFor on `pool`, or inline (slot 0) when pool is null.
void ParallelFor(ThreadPool* pool, int64_t count, int64_t work_per_item,
                 const ThreadPool::RangeFn& fn);

}  // namespace convd

#endif  // CONVD_KERNELS_CPU_THREAD_POOL_H_
