// Data helpers for the GPU benchmarks: fast random fills for buffers of
// hundreds of millions of values, and how far two results are apart.
#ifndef CONVD_BENCH_GPU_DATA_H_
#define CONVD_BENCH_GPU_DATA_H_

#include <cmath>
#include <cstdint>
#include <vector>

namespace convd::bench {

// `count` values uniform in [-1, 1) from a xorshift generator (fast and
// reproducible by seed; statistical quality is not the point here).
inline std::vector<float> FastRandom(int64_t count, uint64_t seed) {
  std::vector<float> values(count);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& v : values) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    v = static_cast<float>(static_cast<int64_t>(x >> 40) - (int64_t{1} << 23)) / (1 << 23);
  }
  return values;
}

// max |a - b| / max |b| over the first `count` values.
inline double MaxRelativeDifference(const std::vector<float>& a, const std::vector<float>& b,
                                    size_t count) {
  double scale = 0, worst = 0;
  for (size_t i = 0; i < count && i < a.size() && i < b.size(); ++i) {
    scale = std::max(scale, std::abs(double{b[i]}));
    worst = std::max(worst, std::abs(double{a[i]} - b[i]));
  }
  return scale > 0 ? worst / scale : worst;
}

}  // namespace convd::bench

#endif  // CONVD_BENCH_GPU_DATA_H_
