// gpu_conv_bench: each of our CUDA convolution algorithms (direct, im2col +
// our SGEMM, implicit GEMM, Winograd F(2x2,3x3), F(4x4,3x3), F(2x2,5x5)
// and F(4x4,5x5)) on every layer of bench/conv_layers.h at several batch
// sizes, side by side with cuDNN's best algorithm in the same run, and the
// geometric mean of the speed ratios.
//
// Method: random inputs and filters on the device; Winograd filters are
// transformed outside the timing (as the executor does at load). Every side
// computes a plain convolution (no bias or activation) into NCHW FP32 with
// the same workspace cap. cuDNN: cudnnFindConvolutionForwardAlgorithmEx
// over all forward algorithms with FP32 FMA math only (CUDNN_FMA_MATH: no
// TF32), or with tensor ops under --math=tf32 (CUDNN_TENSOR_OP_MATH) or
// --math=fp16 (CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION), where ours run their
// SGEMMs on TF32 or FP16 tensor cores too; its fastest is then timed by
// the same timer as ours (gpu_timing.h: CUDA events, median of repetitions).
// The output of our fastest algorithm is compared with cuDNN's.
//
//   gpu_conv_bench [--batches=1,8,32,128] [--filter=vgg] [--csv=out.csv]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/conv_layers.h"
#include "bench/gemm_math_flag.h"
#include "bench/gpu_data.h"
#include "bench/gpu_timing.h"
#include "kernels/cuda/conv_launch.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/peers/cudnn_convolution.h"
#include "kernels/cuda/winograd_launch.h"

ABSL_FLAG(std::string, batches, "1,8,32,128", "Comma-separated batch sizes.");
ABSL_FLAG(std::string, filter, "", "Only layers whose name contains this.");
ABSL_FLAG(std::string, math, "fp32",
          "Both sides' math: fp32 (FMA only), tf32 or fp16 (tensor cores).");
ABSL_FLAG(int, workspace_mib, 1024, "Workspace cap for every algorithm, ours and cuDNN's.");
ABSL_FLAG(double, direct_max_gflop, 100, "Skip our direct kernel on layers above this.");
ABSL_FLAG(double, max_seconds, 400, "Stop measuring after this long (rows left are listed).");
ABSL_FLAG(std::string, csv, "", "Also write one CSV line per layer and batch here.");

namespace convd::cuda {
namespace {

using bench::ConvLayer;

struct Row {
  std::string layer;
  int batch = 0;
  double gflop = 0;
  std::vector<double> ours_ms;  // per algorithm; < 0: cannot run, 0: skipped
  std::string best_name;
  double best_ms = 0;
  std::string peer_name;
  double peer_ms = 0;
  double difference = 0;
  bool winograd_shape = false;
};

const char* const kOurAlgorithms[] = {"direct",       "im2col",       "implicit_gemm",
                                      "winograd_f23", "winograd_f43", "winograd_f25",
                                      "winograd_f45"};

// The Winograd variant an entry of kOurAlgorithms names.
std::optional<WinogradVariant> VariantNamed(const std::string& algorithm) {
  if (algorithm == "winograd_f23") return WinogradVariant::kF23;
  if (algorithm == "winograd_f43") return WinogradVariant::kF43;
  if (algorithm == "winograd_f25") return WinogradVariant::kF25;
  if (algorithm == "winograd_f45") return WinogradVariant::kF45;
  return std::nullopt;
}

absl::StatusOr<Row> Measure(const ConvLayer& layer, int batch, const DeviceBuffer& input,
                            const DeviceBuffer& weights, const std::vector<float>& host_weights,
                            DeviceBuffer& ours, DeviceBuffer& theirs, DeviceBuffer& workspace,
                            Cudnn& cudnn, GemmMath math, cudaStream_t stream) {
  ConvParams params = bench::ToConvParams(layer, batch);
  if (absl::Status s = ComputeConvOutput(params); !s.ok()) return s;
  const DeviceConvShape shape = ToDeviceConv(params);
  Row row;
  row.layer = layer.name;
  row.batch = batch;
  row.gflop = 2.0 * params.macs() / 1e9;
  row.winograd_shape = std::any_of(std::begin(kWinogradVariants), std::end(kWinogradVariants),
                                   [&](WinogradVariant v) { return WinogradApplies(v, shape); });
  const bench::GpuTimingOptions timing;
  const int64_t workspace_floats = workspace.floats();
  DeviceBuffer transformed[std::size(kWinogradVariants)];  // each variant's filters
  std::function<cudaError_t()> best_launch;
  for (const char* name : kOurAlgorithms) {
    const std::string algorithm = name;
    const std::optional<WinogradVariant> variant = VariantNamed(algorithm);
    std::function<cudaError_t()> launch;
    if (algorithm == "direct") {
      if (row.gflop > absl::GetFlag(FLAGS_direct_max_gflop)) {
        row.ours_ms.push_back(0);
        continue;
      }
      launch = [&] {
        return LaunchConvDirect(shape, input.data(), weights.data(), {}, ours.data(), stream);
      };
    } else if (algorithm == "implicit_gemm") {
      launch = [&] {
        return LaunchConvImplicitGemm(shape, input.data(), weights.data(), {}, ours.data(), stream,
                                      math);
      };
    } else if (algorithm == "im2col") {
      if (Im2colWorkspaceFloats(shape, 1) > workspace_floats) {
        row.ours_ms.push_back(-1);
        continue;
      }
      launch = [&] {
        return LaunchConvIm2col(shape, input.data(), weights.data(), {}, workspace.data(),
                                workspace_floats, ours.data(), stream, math);
      };
    } else {
      if (!WinogradApplies(*variant, shape) ||
          WinogradWorkspaceFloats(*variant, shape, 1) > workspace_floats) {
        row.ours_ms.push_back(-1);
        continue;
      }
      DeviceBuffer& filters = transformed[static_cast<int>(*variant)];
      absl::StatusOr<DeviceBuffer> uploaded =
          DeviceBuffer::FromHost(WinogradTransformFilters(*variant, shape, host_weights.data()));
      if (!uploaded.ok()) return uploaded.status();
      filters = std::move(*uploaded);
      const float* filter_data = filters.data();
      const WinogradVariant v = *variant;
      launch = [&, v, filter_data] {
        return LaunchConvWinograd(v, shape, input.data(), filter_data, {}, workspace.data(),
                                  workspace_floats, ours.data(), stream, math);
      };
    }
    absl::StatusOr<double> ms = bench::MedianMilliseconds(stream, timing, launch);
    if (!ms.ok()) return absl::Status(ms.status().code(), algorithm + ": " +
                                                              std::string(ms.status().message()));
    row.ours_ms.push_back(*ms);
    if (row.best_ms == 0 || *ms < row.best_ms) {
      row.best_ms = *ms;
      row.best_name = algorithm;
      best_launch = launch;
    }
  }
  // Our fastest algorithm's output, for the comparison with cuDNN's.
  if (!best_launch) return absl::InternalError("none of our algorithms could run");
  cudaError_t rerun = best_launch();
  if (rerun == cudaSuccess) rerun = cudaStreamSynchronize(stream);  // a non-blocking stream
  if (rerun != cudaSuccess) {
    return absl::InternalError(absl::StrCat(row.best_name, ": ", cudaGetErrorString(rerun)));
  }
  absl::StatusOr<std::vector<float>> best_output = ours.ToHost(params.output_elements());
  if (!best_output.ok()) return best_output.status();

  absl::StatusOr<std::unique_ptr<CudnnConvolution>> peer = cudnn.Convolution(shape, math);
  if (!peer.ok()) return peer.status();
  const int64_t workspace_bytes = workspace_floats * int64_t{sizeof(float)};
  absl::StatusOr<std::vector<CudnnAlgorithmTime>> ranked = (*peer)->Find(
      input.data(), weights.data(), theirs.data(), workspace.data(), workspace_bytes);
  if (!ranked.ok()) return ranked.status();
  if (ranked->empty()) return absl::InternalError("no cuDNN algorithm ran");
  row.peer_name = ranked->front().name;
  const int algorithm = ranked->front().algorithm;
  absl::StatusOr<double> peer_ms = bench::MedianMilliseconds(stream, timing, [&] {
    return (*peer)->Run(algorithm, input.data(), weights.data(), theirs.data(), workspace.data(),
                        workspace_bytes);
  });
  if (!peer_ms.ok()) return peer_ms.status();
  row.peer_ms = *peer_ms;
  absl::StatusOr<std::vector<float>> peer_output = theirs.ToHost(params.output_elements());
  if (!peer_output.ok()) return peer_output.status();
  row.difference =
      bench::MaxRelativeDifference(*best_output, *peer_output, params.output_elements());
  return row;
}

std::string Cell(double ms) {
  if (ms < 0) return "-";
  if (ms == 0) return "skip";
  return absl::StrFormat("%.3f", ms);
}

int Main() {
  if (!DeviceAvailable()) {
    std::fprintf(stderr, "gpu_conv_bench: %s\n", DeviceDescription().c_str());
    return 1;
  }
  const absl::StatusOr<GemmMath> math = bench::GemmMathFromFlag(absl::GetFlag(FLAGS_math));
  if (!math.ok()) {
    std::fprintf(stderr, "gpu_conv_bench: --math: %s\n", math.status().ToString().c_str());
    return 2;
  }
  std::vector<int> batches;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_batches), ',')) {
    batches.push_back(std::stoi(std::string(part)));
  }
  const int max_batch = *std::max_element(batches.begin(), batches.end());
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  absl::StatusOr<std::unique_ptr<Cudnn>> cudnn = Cudnn::Open(stream);
  if (!cudnn.ok()) {
    std::fprintf(stderr, "gpu_conv_bench: cuDNN: %s\n", cudnn.status().ToString().c_str());
    return 1;
  }
  auto workspace = DeviceBuffer::Allocate(int64_t{absl::GetFlag(FLAGS_workspace_mib)} << 18);
  if (!workspace.ok()) return 1;
  const double peak = bench::Fp32PeakTflops(0);
  std::printf("device: %s, FP32 peak %.1f TFLOP/s (SMs x lanes x 2 x boost clock); %s; "
              "cuDNN math: %s; workspace cap %d MiB\n",
              DeviceDescription().c_str(), peak, (*cudnn)->Version().c_str(),
              cuda::GemmMathLabel(*math), absl::GetFlag(FLAGS_workspace_mib));
  std::printf("times in ms (median); ratio = cuDNN time / our best time (>1: ours faster); "
              "diff = max |ours - cuDNN| / max |cuDNN|\n\n");
  std::printf(
      "| layer | batch | GFLOP | direct | im2col | implicit | wino_f23 | wino_f43 | wino_f25 | "
      "wino_f45 | "
      "ours best | TFLOP/s | %% peak | cuDNN best | cuDNN ms | cuDNN TFLOP/s | ratio | "
      "diff |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::ofstream csv;
  if (!absl::GetFlag(FLAGS_csv).empty()) {
    csv.open(absl::GetFlag(FLAGS_csv));
    csv << "layer,batch,gflop,direct_ms,im2col_ms,implicit_gemm_ms,winograd_f23_ms,"
           "winograd_f43_ms,winograd_f25_ms,winograd_f45_ms,best,best_ms,cudnn,cudnn_ms,ratio,"
           "diff\n";
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<double> ratios, winograd_ratios, other_ratios;
  std::vector<std::string> unmeasured;
  int failures = 0;
  for (const ConvLayer& layer : bench::kConvLayers) {
    if (std::string(layer.name).find(absl::GetFlag(FLAGS_filter)) == std::string::npos) continue;
    ConvParams largest = bench::ToConvParams(layer, max_batch);
    if (!ComputeConvOutput(largest).ok()) return 1;
    const std::vector<float> host_input = bench::FastRandom(largest.input_elements(), 1);
    const std::vector<float> host_weights = bench::FastRandom(largest.weight_elements(), 2);
    auto input = DeviceBuffer::FromHost(host_input);
    auto weights = DeviceBuffer::FromHost(host_weights);
    auto ours = DeviceBuffer::Allocate(largest.output_elements());
    auto theirs = DeviceBuffer::Allocate(largest.output_elements());
    if (!input.ok() || !weights.ok() || !ours.ok() || !theirs.ok()) {
      std::fprintf(stderr, "%s: out of device memory\n", layer.name);
      return 1;
    }
    for (int batch : batches) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (elapsed > absl::GetFlag(FLAGS_max_seconds)) {
        unmeasured.push_back(absl::StrFormat("%s@%d", layer.name, batch));
        continue;
      }
      absl::StatusOr<Row> row = Measure(layer, batch, *input, *weights, host_weights, *ours,
                                        *theirs, *workspace, **cudnn, *math, stream);
      if (!row.ok()) {
        ++failures;
        std::printf("| %s | %d | error: %s |\n", layer.name, batch,
                    row.status().ToString().c_str());
        continue;
      }
      const double ratio = row->peer_ms / row->best_ms;
      ratios.push_back(ratio);
      (row->winograd_shape ? winograd_ratios : other_ratios).push_back(ratio);
      const double tflops = row->gflop / row->best_ms;  // GFLOP / ms = TFLOP/s
      std::vector<std::string> cells;
      for (double ms : row->ours_ms) cells.push_back(Cell(ms));
      std::printf(
          "| %s | %d | %.3f | %s | %s | %.2f | %.0f%% | %s | %.3f | %.2f | %.2fx | %.1e |\n",
          row->layer.c_str(), batch, row->gflop, absl::StrJoin(cells, " | ").c_str(),
          row->best_name.c_str(), tflops, peak > 0 ? 100 * tflops / peak : 0.0,
          row->peer_name.c_str(), row->peer_ms, row->gflop / row->peer_ms, ratio, row->difference);
      std::fflush(stdout);
      if (csv.is_open()) {
        csv << absl::StrFormat("%s,%d,%.4f,%s,%s,%.4f,%s,%.4f,%.4f,%.2e\n", row->layer, batch,
                               row->gflop, absl::StrJoin(cells, ","), row->best_name, row->best_ms,
                               row->peer_name, row->peer_ms, ratio, row->difference);
      }
    }
  }
  std::printf(
      "\n%zu layer x batch rows; Winograd-shaped (3x3 or 5x5 stride 1): geomean %.3fx "
      "over %zu; others: %.3fx over %zu\n",
      ratios.size(), bench::GeometricMean(winograd_ratios), winograd_ratios.size(),
      bench::GeometricMean(other_ratios), other_ratios.size());
  if (!unmeasured.empty()) {
    std::printf("not measured (over --max_seconds): %zu rows, first %s\n", unmeasured.size(),
                unmeasured.front().c_str());
  }
  std::printf("geomean vs cuDNN %s: %.3fx\n", cuda::GemmMathLabel(*math),
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
