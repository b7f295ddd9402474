// packed_gemm_bench: convd's own GEMM (kernels/cpu/packed_gemm.h) against
// OpenBLAS's cblas_sgemm, single-threaded (convd's kernels split a layer
// across threads themselves), in one process, on the products convd's
// convolutions issue: one task's share of a 1x1 layer (PackedGemm, B read
// in place from the input plane), an im2col block, a Winograd position
// (PackedGemmPackedRight) and a large square product. convd's A is packed
// ahead (it is, at load); OpenBLAS packs both per call, as it would if
// convd called it. Median of the runs.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/cpu_timing.h"
#include "kernels/aligned_buffer.h"
#include "kernels/cpu/packed_gemm.h"

ABSL_FLAG(int, runs, 15, "Timed runs per measurement (median).");

using convd::bench::MedianMicroseconds;
using convd::bench::RandomFloats;

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  openblas_set_num_threads(1);
  const int runs = absl::GetFlag(FLAGS_runs);
  struct Shape {
    const char* what;
    int m, n, k;
    int ldb;            // B's row stride: the input plane for a 1x1 layer's task
    bool packed_right;  // Winograd: B packed ahead by the input transform
  };
  const Shape shapes[] = {
      {"resnet50.l1_1x1_64_64 task (56x56 plane)", 64, 784, 64, 3136, false},
      {"resnet50.l1_1x1_256_64 task", 64, 784, 256, 3136, false},
      {"resnet50.l2_1x1_512_128 task (28x28)", 128, 208, 512, 784, false},
      {"resnet50.l3_1x1_256_1024 task (14x14)", 1024, 64, 256, 196, false},
      {"resnet50.l4_1x1_2048_512 task (7x7)", 512, 16, 2048, 49, false},
      {"resnet50.l2_1x1_512_128 batch 32 image", 128, 784, 512, 784, false},
      {"alexnet.conv3 im2col task", 384, 48, 1728, 48, false},
      {"alexnet.conv3 im2col task, batch 1 (13x13: 2 column and 2 filter blocks)", 192, 89, 1728,
       89, false},
      {"vgg conv3 im2col block", 256, 224, 2304, 224, false},
      {"winograd_f43 position (K=C=256, 49 tiles)", 256, 49, 256, 49, true},
      {"winograd_f43 position (K=C=256, 256 tiles)", 256, 256, 256, 256, true},
      {"square 1024", 1024, 1024, 1024, 1024, false},
  };
  std::printf("single-threaded; median of %d runs; GFLOP/s = 2mnk / time\n", runs);
  std::printf(
      "| product | m x n x k | convd GFLOP/s | convd, B packed ahead | OpenBLAS GFLOP/s | convd / "
      "OpenBLAS |\n");
  std::printf("|---|---|---|---|---|---|\n");
  const convd::cpu::GemmEpilogue no_epilogue;
  for (const Shape& s : shapes) {
    const std::vector<float> a = RandomFloats(int64_t{s.m} * s.k);
    const std::vector<float> b = RandomFloats(int64_t{s.k} * s.ldb);
    convd::AlignedBuffer a_packed(convd::cpu::PackedLeftOperandFloats(s.m, s.k));
    convd::cpu::PackGemmLeftOperand(a.data(), s.m, s.k, s.k, a_packed.data());
    convd::AlignedBuffer b_packed(convd::cpu::PackedRightOperandFloats(s.n, s.k));
    convd::cpu::PackGemmRightOperand(b.data(), s.n, s.k, s.ldb, b_packed.data());
    convd::AlignedBuffer workspace(convd::cpu::PackedGemmWorkspaceFloats());
    std::vector<float> ours(int64_t{s.m} * s.n), theirs(int64_t{s.m} * s.n);
    const double flop = 2.0 * s.m * s.n * s.k;
    const int calls = std::max(1, static_cast<int>(2e8 / flop));
    const double convd_us = MedianMicroseconds(runs, calls, [&] {
      if (s.packed_right) {
        convd::cpu::PackedGemmPackedRight(s.m, s.n, s.k, a_packed.data(), b_packed.data(),
                                          ours.data(), s.n, no_epilogue);
      } else {
        convd::cpu::PackedGemm(s.m, s.n, s.k, a_packed.data(), b.data(), s.ldb, ours.data(), s.n,
                               no_epilogue, workspace.data());
      }
    });
    // What the packing of B costs (the same product on B packed ahead).
    const double prepacked_us = MedianMicroseconds(runs, calls, [&] {
      convd::cpu::PackedGemmPackedRight(s.m, s.n, s.k, a_packed.data(), b_packed.data(),
                                        ours.data(), s.n, no_epilogue);
    });
    const double openblas_us = MedianMicroseconds(runs, calls, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0f, a.data(), s.k,
                  b.data(), s.ldb, 0.0f, theirs.data(), s.n);
    });
    double difference = 0, magnitude = 0;
    for (size_t i = 0; i < ours.size(); ++i) {
      difference = std::max<double>(difference, std::abs(ours[i] - theirs[i]));
      magnitude = std::max<double>(magnitude, std::abs(theirs[i]));
    }
    std::printf("| %s | %d x %d x %d | %.1f | %.1f | %.1f | %.2fx |%s\n", s.what, s.m, s.n, s.k,
                flop / (convd_us * 1e3), flop / (prepacked_us * 1e3), flop / (openblas_us * 1e3),
                openblas_us / convd_us,
                difference > 1e-5 * magnitude * std::sqrt(s.k) ? " (results differ!)" : "");
  }
  return 0;
}
