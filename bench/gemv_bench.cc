// gemv_bench: convd's own matrix-vector product (kernels/cpu/gemv.h, the
// fully connected layer at batch 1) against OpenBLAS's cblas_sgemv, which
// it replaced, on the layers' shapes, single-threaded (the layer splits
// features across threads itself), in one process: median time of the
// runs, each pass over the same weights (LeNet's stay in cache, AlexNet's
// slices in L3, fc6 whole in memory). Also convd's GemvHalf, the same
// weights stored as halves (algorithm_policy.cpu_weights: WEIGHTS_FP16).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/cpu_timing.h"
#include "kernels/cpu/gemv.h"
#include "kernels/cpu/half.h"

ABSL_FLAG(int, runs, 31, "Timed runs per measurement (median).");

using convd::bench::MedianMicroseconds;
using convd::bench::RandomFloats;

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  openblas_set_num_threads(1);
  struct Shape {
    const char* what;
    int m, n;  // output features, input features
  };
  const Shape shapes[] = {
      {"lenet5.fc1", 120, 400},
      {"lenet5.fc2", 84, 120},
      {"lenet5.fc3", 10, 84},
      {"alexnet.fc6 task (128 features)", 128, 9216},
      {"alexnet.fc7 task (128 features)", 128, 4096},
      {"alexnet.fc8 whole", 1000, 4096},
      {"alexnet.fc6 whole", 4096, 9216},
  };
  std::printf("single-threaded; median of %d runs\n", absl::GetFlag(FLAGS_runs));
  std::printf(
      "| shape | m x n | convd us | OpenBLAS us | convd GB/s | OpenBLAS / convd time | "
      "convd halves us | convd / halves time |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const Shape& s : shapes) {
    const std::vector<float> a = RandomFloats(int64_t{s.m} * s.n);
    const std::vector<float> x = RandomFloats(s.n);
    std::vector<uint16_t> halves(a.size());
    for (size_t i = 0; i < a.size(); ++i) halves[i] = convd::cpu::FloatToHalf(a[i]);
    std::vector<float> ours(s.m), theirs(s.m), from_halves(s.m);
    // About 10 MB of weights read per run: many calls for small shapes.
    const int calls = std::max<int64_t>(1, 2500000 / (int64_t{s.m} * s.n));
    const double convd_us = MedianMicroseconds(absl::GetFlag(FLAGS_runs), calls, [&] {
      convd::cpu::Gemv(s.m, s.n, a.data(), s.n, 1, x.data(), s.n, ours.data(), s.m);
    });
    const double openblas_us = MedianMicroseconds(absl::GetFlag(FLAGS_runs), calls, [&] {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, s.m, s.n, 1.0f, a.data(), s.n, x.data(), 1, 0.0f,
                  theirs.data(), 1);
    });
    const double halves_us = MedianMicroseconds(absl::GetFlag(FLAGS_runs), calls, [&] {
      convd::cpu::GemvHalf(s.m, s.n, halves.data(), s.n, 1, x.data(), s.n, from_halves.data(), s.m);
    });
    double difference = 0;
    for (int i = 0; i < s.m; ++i)
      difference = std::max<double>(difference, std::abs(ours[i] - theirs[i]));
    // Halves differ from the floats by up to 2^-11 of each weight.
    double half_difference = 0, magnitude = 0;
    for (int i = 0; i < s.m; ++i) {
      half_difference = std::max<double>(half_difference, std::abs(ours[i] - from_halves[i]));
      magnitude = std::max<double>(magnitude, std::abs(ours[i]));
    }
    std::printf("| %s | %d x %d | %.2f | %.2f | %.1f | %.2fx | %.2f | %.2fx |%s%s\n", s.what, s.m,
                s.n, convd_us, openblas_us, int64_t{s.m} * s.n * 4 / (convd_us * 1e3),
                openblas_us / convd_us, halves_us, convd_us / halves_us,
                difference > 1e-3 ? " (results differ!)" : "",
                half_difference > 1e-2 * magnitude ? " (halves' results differ!)" : "");
  }
  return 0;
}
