// Timing and data for the single-threaded CPU kernel benchmarks
// (gemv_bench, packed_gemm_bench): the median of repeated runs, each of
// several calls, after one unmeasured run that warms the caches.
#ifndef CONVD_BENCH_CPU_TIMING_H_
#define CONVD_BENCH_CPU_TIMING_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

namespace convd::bench {

// Uniform in [-1, 1), from one generator seeded once per process: each
// call's values differ, every run of the benchmark gets the same ones.
inline std::vector<float> RandomFloats(int64_t count) {
  static std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = uniform(rng);
  return values;
}

// Microseconds per call of `function`: the median over `runs` runs of
// `calls` calls each, after one more run that is not measured.
template <typename Function>
double MedianMicroseconds(int runs, int calls, Function&& function) {
  std::vector<double> times;
  for (int run = 0; run <= runs; ++run) {
    const auto start = std::chrono::steady_clock::now();
    for (int call = 0; call < calls; ++call) function();
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count() /
        calls;
    if (run > 0) times.push_back(us);
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

}  // namespace convd::bench

#endif  // CONVD_BENCH_CPU_TIMING_H_
