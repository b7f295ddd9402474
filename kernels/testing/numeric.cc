#include "kernels/testing/numeric.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace convd::testing {

std::mt19937_64& Rng() {
  static std::mt19937_64* rng = [] {
    uint64_t seed;
    if (const char* env = std::getenv("CONVD_TEST_SEED")) {
      seed = std::strtoull(env, nullptr, 10);
    } else {
      std::random_device device;
      seed = (uint64_t{device()} << 32) ^ device();
    }
    std::fprintf(stderr, "random seed: CONVD_TEST_SEED=%llu\n",
                 static_cast<unsigned long long>(seed));
    return new std::mt19937_64(seed);
  }();
  return *rng;
}

std::vector<float> RandomVector(int64_t count, float low, float high) {
  std::uniform_real_distribution<float> uniform(low, high);
  std::vector<float> values(count);
  {
    // Concurrent clients in the server tests draw their inputs at once.
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    for (float& v : values) v = uniform(Rng());
  }
  if (count > 0 && std::all_of(values.begin(), values.end(),
                               [](float v) { return v == 0.0f; })) {
    values[0] = high * 0.5f;
  }
  return values;
}

std::vector<float> Magnitudes(std::vector<float> values) {
  for (float& v : values) v = std::abs(v);
  return values;
}

double MaxRelativeError(const float* actual, const std::vector<double>& expected) {
  double max_error = 0.0, max_magnitude = 0.0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (!std::isfinite(actual[i])) return INFINITY;
    max_error = std::max(max_error, std::abs(actual[i] - expected[i]));
    max_magnitude = std::max(max_magnitude, std::abs(expected[i]));
  }
  return max_magnitude > 0.0 ? max_error / max_magnitude : max_error;
}

double MaxErrorRelativeTo(const float* actual, const std::vector<double>& expected,
                          const std::vector<double>& scale) {
  double max_error = 0.0, magnitude = 0.0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double difference = std::abs(actual[i] - expected[i]);
    max_error = std::isfinite(difference) ? std::max(max_error, difference) : INFINITY;
    magnitude = std::max(magnitude, std::abs(scale[i]));
  }
  return magnitude > 0.0 ? max_error / magnitude : max_error;
}

bool HasLargeWinogradTiles(std::string_view algorithm) {
  return algorithm == "winograd_f43" || algorithm == "winograd_f25" ||
         algorithm == "winograd_f45" || algorithm == "winograd_f43_s2d";
}

}  // namespace convd::testing
