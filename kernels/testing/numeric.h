// Helpers for numerical tests: fresh random data (seed printed so a failure
// can be replayed with CONVD_TEST_SEED) and the error metric every kernel
// test uses: max |y - ref| / max |ref|.
#ifndef CONVD_KERNELS_TESTING_NUMERIC_H_
#define CONVD_KERNELS_TESTING_NUMERIC_H_

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

namespace convd::testing {

// A generator seeded from CONVD_TEST_SEED if set, else from random_device.
// The seed is printed once per process. Not thread safe: use it from one
// thread, or call RandomVector.
std::mt19937_64& Rng();

// `count` values uniform in [low, high); never all zero. Thread safe.
std::vector<float> RandomVector(int64_t count, float low = -1.0f, float high = 1.0f);

// max |actual - expected| / max |expected| (or the absolute error when
// expected is all zeros).
double MaxRelativeError(const float* actual, const std::vector<double>& expected);

// |v| for each value: inputs to a reference that gives the scale float32
// rounding works at (the sum of the terms' magnitudes) for
// MaxErrorRelativeTo, where a result's own size can be far smaller (a
// product that nearly cancels its bias).
std::vector<float> Magnitudes(std::vector<float> values);

// max |actual - expected| / max |scale|. For outputs an activation bounds
// (a clip), pass the reference without the activation as `scale`: the
// error is float32 rounding of the sums before it, which a clip does not
// shrink (a 1,152-term sum of magnitude 40 clipped to [-0.5, 2] would fail
// a bound relative to 2). Infinite when `actual` has a NaN or infinity.
double MaxErrorRelativeTo(const float* actual, const std::vector<double>& expected,
                          const std::vector<double>& scale);

// Whether `algorithm` (a convolution algorithm's policy name) is Winograd
// on 6x6 or 8x8 tiles (winograd_f43, winograd_f25, winograd_f45,
// winograd_f43_s2d), whose
// transforms' constants (up to 21/4, points 1/2 apart) amplify float32
// rounding: tests bound their error at 1e-4 where other algorithms get
// 1e-5 to 2e-5.
bool HasLargeWinogradTiles(std::string_view algorithm);

}  // namespace convd::testing

#endif  // CONVD_KERNELS_TESTING_NUMERIC_H_
