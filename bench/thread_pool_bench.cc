// What a ThreadPool hand-off costs against running the same loop inline:
// the measurement behind ThreadPool::kMinWorkPerChunk and
// ThreadPool::kDefaultSpin. Each item is a chain of `work` dependent
// multiply-adds, and the pool may hand any item to another thread. The
// loops come back to back, timed twice: outside a ThreadPool::Burst (each
// loop wakes a sleeping worker, as a server's first layer does) and
// inside one (the worker polls between loops, as between a pass's layers).
// Prints the median and 90th percentile over 2000 runs of each.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "kernels/cpu/thread_pool.h"

namespace convd {
namespace {

struct Percentiles {
  double median_us, p90_us;
};

template <typename Fn>
Percentiles Time(Fn fn) {
  std::vector<double> micros;
  for (int run = 0; run < 2000; ++run) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(micros.begin(), micros.end());
  return {micros[micros.size() / 2], micros[micros.size() * 9 / 10]};
}

int Main() {
  ThreadPool* pool = ThreadPool::Default();
  std::printf(
      "threads: %d\n| items | work per item | total work | inline median us | "
      "pool median us | pool p90 us | inline / pool | in a burst: pool median us | pool p90 us | "
      "inline / pool |\n|---|---|---|---|---|---|---|---|---|---|\n",
      pool->num_threads());
  for (int items : {2, 8}) {
    for (int work : {1000, 10000, 100000}) {
      std::vector<float> data(int64_t{items} * work, 1.0f);
      std::vector<float> sums(items);
      auto item = [&](int64_t i) {
        float sum = 0.0f;
        for (int j = 0; j < work; ++j) sum = sum * 0.999f + data[i * work + j];
        sums[i] = sum;
      };
      const Percentiles inline_time = Time([&] {
        for (int64_t i = 0; i < items; ++i) item(i);
      });
      // Claiming a whole chunk's work per item: every item may go to
      // another thread.
      auto handed_off = [&] {
        pool->ParallelFor(items, ThreadPool::kMinWorkPerChunk,
                          [&](int64_t begin, int64_t end, int) {
                            for (int64_t i = begin; i < end; ++i) item(i);
                          });
      };
      const Percentiles pool_time = Time(handed_off);
      Percentiles burst_time;
      {
        const ThreadPool::Burst burst(pool);
        burst_time = Time(handed_off);
      }
      std::printf("| %d | %d | %lld | %.1f | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx |\n", items,
                  work, static_cast<long long>(int64_t{items} * work), inline_time.median_us,
                  pool_time.median_us, pool_time.p90_us,
                  inline_time.median_us / pool_time.median_us, burst_time.median_us,
                  burst_time.p90_us, inline_time.median_us / burst_time.median_us);
    }
  }
  return 0;
}

}  // namespace
}  // namespace convd

int main() { return convd::Main(); }
