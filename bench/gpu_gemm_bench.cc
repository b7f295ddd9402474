// gpu_gemm_bench: our SGEMM (kernels/cuda/sgemm_launch.h) against cuBLAS
// SGEMM on the same shapes in the same run: large squares, the im2col
// products of bench/conv_layers.h's layers (filters [K, CRS] times the
// images' patches side by side, [CRS, images x PQ], as conv_launch.h runs
// them), Winograd F(4x4)'s 36 products of AlexNet conv3 ([K, C] x [C,
// tiles], a strided batch; 16 tiles at batch 1) and AlexNet's fully
// connected layers ([batch, in] x [in, out]; batches 1 and 8 run on the
// kernel for products of up to 8 rows, the others on tiles).
//
// Method: random matrices on the device; both sides write C = A x B (no
// epilogue) and are timed by gpu_timing.h (CUDA events, median of
// repetitions). Ours gets a workspace, as the executor gives it, so it
// splits K where SplitKFor says (the `split` column: parts); those rows
// also time the same product in one pass, for the split's own effect; cuBLAS runs
// cublasSgemmStridedBatched with CUBLAS_DEFAULT_MATH (FP32, no TF32) unless --math=tf32 or fp16,
// which run both sides on tensor cores with FP32 accumulation (ours: GemmMath::kTf32 / kFp16;
// cuBLAS: CUBLAS_TF32_TENSOR_OP_MATH / cublasGemmStridedBatchedEx with
// CUBLAS_COMPUTE_32F_FAST_16F).
//
// With --tile_sweep (the default), products of 9+ rows other than the
// squares also time one pass on each of the four tile shapes (128 or 64
// rows by 128 or 64 columns; GemmKernelChoice), the rule's own marked *, and the
// table ends with what the best of them would give: the data for the
// rule (sgemm_launch.h) that picks them. Products of 9+ rows also time
// the kernel the rule does not pick, on the rule's tiles in one pass,
// against the rule's one pass (GemmKernelChoice::stages): in FP32 the
// kernel that copies K steps into shared memory by cp.async, 4 stages
// (GPU_NOTES entry 23); on tensor cores the register-staged kernel with
// K steps of 8, which the tensor-core kernel (entry 26) replaced.
//
//   gpu_gemm_bench [--math=fp32|tf32|fp16] [--tile_sweep=false] [--only=NAME]
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "bench/conv_layers.h"
#include "bench/gemm_math_flag.h"
#include "bench/gpu_data.h"
#include "bench/gpu_timing.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/peers/cublas_gemm.h"
#include "kernels/cuda/sgemm_launch.h"

ABSL_FLAG(std::string, math, "fp32",
          "Both sides' math: fp32 (no TF32), tf32 or fp16 (tensor cores).");
ABSL_FLAG(int, im2col_batch, 32, "Images per im2col product.");
ABSL_FLAG(std::string, only, "",
          "Run only the products whose name contains this (a profiler's run: gpu_check.sh).");
ABSL_FLAG(bool, tile_sweep, true,
          "Also time each tile shape (one pass) on the products of 9+ rows but the squares.");

namespace convd::cuda {
namespace {

struct Problem {
  std::string name;
  GemmShape shape;
};

GemmShape Dense(int m, int n, int k, int batch = 1, bool shared_a = false) {
  GemmShape s;
  s.m = m, s.n = n, s.k = k, s.lda = k, s.ldb = n, s.ldc = n, s.batch = batch;
  s.stride_a = shared_a ? 0 : int64_t{m} * k;
  s.stride_b = int64_t{k} * n;
  s.stride_c = int64_t{m} * n;
  return s;
}

std::vector<Problem> Problems() {
  std::vector<Problem> problems;
  for (int size : {1024, 2048, 4096, 8192}) {
    problems.push_back({absl::StrFormat("square %d", size), Dense(size, size, size)});
  }
  const int images = absl::GetFlag(FLAGS_im2col_batch);
  for (const char* name : {"alexnet.conv2", "alexnet.conv3", "vgg16.conv2_2", "vgg16.conv4_2/3",
                           "resnet.l1_3x3", "resnet.l3_3x3", "resnet50.l3_1x1_1024_256"}) {
    for (const bench::ConvLayer& layer : bench::kConvLayers) {
      if (std::string(layer.name) != name || layer.groups != 1) continue;
      ConvParams p = bench::ToConvParams(layer, images);
      if (!ComputeConvOutput(p).ok()) continue;
      problems.push_back({absl::StrFormat("im2col %s x%d", name, images),
                          Dense(p.k, images * p.p * p.q, p.c * p.r * p.s)});
    }
  }
  // Batch 1: a plane's positions are the columns (Winograd and split K
  // leave these 1x1 layers to the tiles).
  for (const char* name : {"resnet50.l1_1x1_64_256", "resnet50.l3_1x1_256_1024"}) {
    for (const bench::ConvLayer& layer : bench::kConvLayers) {
      if (std::string(layer.name) != name) continue;
      ConvParams p = bench::ToConvParams(layer, 1);
      if (!ComputeConvOutput(p).ok()) continue;
      problems.push_back(
          {absl::StrFormat("im2col %s x1", name), Dense(p.k, p.p * p.q, p.c * p.r * p.s)});
    }
  }
  for (int batch : {1, 32}) {  // 13x13 outputs: 4x4 tiles of 4x4
    problems.push_back({absl::StrFormat("winograd f43 alexnet.conv3 batch %d", batch),
                        Dense(384, 16 * batch, 192, 36)});
  }
  // F(4x4) at batch 32 on 28x28 (7x7 tiles) and 56x56 planes (14x14).
  problems.push_back({"winograd f43 vgg16.conv4_2/3 batch 32", Dense(512, 49 * 32, 512, 36)});
  problems.push_back({"winograd f43 resnet.l1_3x3 batch 32", Dense(64, 196 * 32, 64, 36)});
  for (int batch : {1, 8, 32, 128}) {
    problems.push_back({absl::StrFormat("alexnet fc6 batch %d", batch), Dense(batch, 4096, 9216)});
    problems.push_back({absl::StrFormat("alexnet fc7 batch %d", batch), Dense(batch, 4096, 4096)});
  }
  return problems;
}

int Main() {
  if (!DeviceAvailable()) {
    std::fprintf(stderr, "gpu_gemm_bench: %s\n", DeviceDescription().c_str());
    return 1;
  }
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  auto cublas = Cublas::Open(stream);
  if (!cublas.ok()) {
    std::fprintf(stderr, "gpu_gemm_bench: cuBLAS: %s\n", cublas.status().ToString().c_str());
    return 1;
  }
  const absl::StatusOr<GemmMath> parsed_math = bench::GemmMathFromFlag(absl::GetFlag(FLAGS_math));
  if (!parsed_math.ok()) {
    std::fprintf(stderr, "gpu_gemm_bench: --math: %s\n", parsed_math.status().ToString().c_str());
    return 2;
  }
  const GemmMath math = *parsed_math;
  const double peak = bench::Fp32PeakTflops(0);
  std::printf("device: %s, FP32 peak %.1f TFLOP/s; %s, math %s\n", DeviceDescription().c_str(),
              peak, (*cublas)->Version().c_str(), cuda::GemmMathLabel(math));
  const bool sweep = absl::GetFlag(FLAGS_tile_sweep);
  constexpr GemmKernelChoice kSweptTiles[] = {{128, 128}, {128, 64}, {64, 128}, {64, 64}};
  // The kernel the rule does not pick, timed beside it.
  const bool fp32 = math == GemmMath::kFp32;
  const GemmKernelChoice other_kernel{0, 0, fp32 ? 4 : 2};
  const char* const other_name = fp32 ? "4-stage" : "register-staged";
  std::printf(
      "| problem | m x n x k (batch) | split | ours ms | ours TFLOP/s | %% peak | one pass ms | "
      "cuBLAS ms | cuBLAS TFLOP/s | ours / cuBLAS speed | diff | %s ms |%s\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|%s\n",
      other_name, sweep ? " 128x128 ms | 128x64 ms | 64x128 ms | 64x64 ms |" : "",
      sweep ? "---|---|---|---|" : "");
  const bench::GpuTimingOptions timing;
  std::vector<double> ratios;
  // Over the swept products: ours with the best tiles against cuBLAS, and
  // on how many ours as launched (the rule's tiles, split where it splits)
  // lost to one of them by more than 3% (noise aside).
  std::vector<double> best_tile_ratios;
  int rule_lost = 0;
  // The other kernel's speed over the rule's (the rule's tiles, one pass
  // each), and over cuBLAS's.
  std::vector<double> other_speedups, other_ratios;
  int failures = 0;
  const std::string only = absl::GetFlag(FLAGS_only);
  for (const Problem& problem : Problems()) {
    if (problem.name.find(only) == std::string::npos) continue;
    const GemmShape& s = problem.shape;
    const int64_t a_floats = s.stride_a == 0 ? int64_t{s.m} * s.k : s.stride_a * s.batch;
    const std::vector<float> host_a = bench::FastRandom(a_floats, 3);
    const std::vector<float> host_b = bench::FastRandom(s.stride_b * s.batch, 4);
    auto a = DeviceBuffer::FromHost(host_a);
    auto b = DeviceBuffer::FromHost(host_b);
    auto ours = DeviceBuffer::Allocate(s.stride_c * s.batch);
    auto theirs = DeviceBuffer::Allocate(s.stride_c * s.batch);
    const int split = SplitKFor(s);
    auto workspace = DeviceBuffer::Allocate(std::max<int64_t>(1, SplitKWorkspaceFloats(s, split)));
    if (!a.ok() || !b.ok() || !ours.ok() || !theirs.ok() || !workspace.ok()) return 1;
    const double gflop = 2.0 * s.m * s.n * static_cast<double>(s.k) * s.batch / 1e9;
    auto time_ours = [&](int parts, GemmKernelChoice kernel = {}) {
      return bench::MedianMilliseconds(stream, timing, [&] {
        return LaunchSgemm(s, a->data(), b->data(), ours->data(), {}, stream, math,
                           GemmWorkspace{workspace->data(), workspace->floats(), parts, kernel});
      });
    };
    std::string one_pass = "-";
    absl::StatusOr<double> one_pass_ms = absl::UnknownError("not split");
    if (split > 1) {
      one_pass_ms = time_ours(1);
      one_pass = one_pass_ms.ok() ? absl::StrFormat("%.3f", *one_pass_ms) : "error";
    }
    auto ours_ms = time_ours(split);
    auto peer_ms = bench::MedianMilliseconds(stream, timing, [&] {
      return (*cublas)->Sgemm(s, a->data(), b->data(), theirs->data(), math);
    });
    auto ours_host = ours->ToHost();
    auto peer_host = theirs->ToHost();
    if (!ours_ms.ok() || !peer_ms.ok() || !ours_host.ok() || !peer_host.ok()) {
      ++failures;
      std::printf("| %s | error: ours %s; cuBLAS %s |\n", problem.name.c_str(),
                  ours_ms.status().ToString().c_str(), peer_ms.status().ToString().c_str());
      continue;
    }
    const double ratio = *peer_ms / *ours_ms;
    ratios.push_back(ratio);
    // After the diff above: the sweep overwrites C.
    const double diff = bench::MaxRelativeDifference(*ours_host, *peer_host, ours_host->size());
    std::string other_column;
    if (s.m > 8) {
      const double rule_ms = split > 1 && one_pass_ms.ok() ? *one_pass_ms : *ours_ms;
      auto ms = time_ours(1, other_kernel);
      auto other_host = ours->ToHost();  // its C: checked against cuBLAS's too
      const double other_diff = other_host.ok() ? bench::MaxRelativeDifference(
                                                      *other_host, *peer_host, other_host->size())
                                                : 1.0;
      other_column = ms.ok() ? absl::StrFormat(" %.3f (diff %.1e) |", *ms, other_diff) : " error |";
      if (!ms.ok() || other_diff > 1e-3) {  // failed, or wrong whatever its speed
        ++failures;
      } else {
        other_speedups.push_back(rule_ms / *ms);
        other_ratios.push_back(*peer_ms / *ms);
      }
    } else {
      other_column = " - |";
    }
    std::string sweep_columns;
    if (sweep && s.m > 8 && problem.name.rfind("square", 0) != 0) {
      const GemmKernelChoice rule = KernelChosenFor(s);
      double best_ms = *ours_ms;
      for (const GemmKernelChoice& tiles : kSweptTiles) {
        auto ms = time_ours(1, tiles);
        const bool own = tiles.rows == rule.rows && tiles.columns == rule.columns;
        sweep_columns += ms.ok() ? absl::StrFormat(" %.3f%s |", *ms, own ? "*" : "") : " error |";
        if (ms.ok()) best_ms = std::min(best_ms, *ms);
      }
      best_tile_ratios.push_back(*peer_ms / best_ms);
      if (*ours_ms > 1.03 * best_ms) ++rule_lost;
    } else if (sweep) {
      sweep_columns = " - | - | - | - |";
    }
    std::printf(
        "| %s | %d x %d x %d (%d) | %d | %.3f | %.2f | %.0f%% | %s | %.3f | %.2f | %.2fx | %.1e "
        "|%s%s\n",
        problem.name.c_str(), s.m, s.n, s.k, s.batch, split, *ours_ms, gflop / *ours_ms,
        peak > 0 ? 100 * gflop / *ours_ms / peak : 0.0, one_pass.c_str(), *peer_ms,
        gflop / *peer_ms, ratio, diff, other_column.c_str(), sweep_columns.c_str());
    std::fflush(stdout);
  }
  if (ratios.empty() && failures == 0) {
    std::fprintf(stderr, "gpu_gemm_bench: no product's name contains --only=%s\n", only.c_str());
    return 2;
  }
  if (!other_speedups.empty()) {
    const double other_speed = bench::GeometricMean(other_speedups);
    if (fp32) {
      std::printf(
          "\n4-stage (cp.async) kernel, the rule's tiles, one pass, over %zu products: %.3fx the "
          "register-staged kernel's speed, %.3fx cuBLAS's\n",
          other_speedups.size(), other_speed, bench::GeometricMean(other_ratios));
    } else {
      std::printf(
          "\ntensor-core kernel (K steps of 32 by cp.async; the rule's), one pass, over %zu "
          "products: %.3fx the speed of the register-staged one (K steps of 8), which is "
          "%.3fx cuBLAS's\n",
          other_speedups.size(), 1.0 / other_speed, bench::GeometricMean(other_ratios));
    }
  }
  if (!best_tile_ratios.empty()) {
    std::printf(
        "\ntile sweep (* the rule's tiles): over %zu products, ours with the best tiles (or "
        "split) vs cuBLAS %.3fx; ours as launched slower than the best by over 3%% on %d\n",
        best_tile_ratios.size(), bench::GeometricMean(best_tile_ratios), rule_lost);
  }
  std::printf("\ngeomean ours vs cuBLAS %s: %.3fx\n", cuda::GemmMathLabel(math),
              bench::GeometricMean(ratios));
  cudaStreamDestroy(stream);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace convd::cuda

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return convd::cuda::Main();
}
