// What a ThreadPool hand-off costs against running the same loop inline:
// the measurement behind ThreadPool::kMinWorkPerChunk. Each item is a chain
// of `work` dependent multiply-adds, and the pool may hand any item to
// another thread.
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
      "pool median us | pool p90 us | inline / pool |\n|---|---|---|---|---|---|---|\n",
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
      const Percentiles pool_time = Time([&] {
        pool->ParallelFor(items, ThreadPool::kMinWorkPerChunk,
                          [&](int64_t begin, int64_t end, int) {
                            for (int64_t i = begin; i < end; ++i) item(i);
                          });
      });
      std::printf("| %d | %d | %lld | %.1f | %.1f | %.1f | %.2fx |\n", items, work,
                  static_cast<long long>(int64_t{items} * work), inline_time.median_us,
                  pool_time.median_us, pool_time.p90_us,
                  inline_time.median_us / pool_time.median_us);
    }
  }
  return 0;
}

}  // namespace
}  // namespace convd

int main() { return convd::Main(); }
