// conv_bench: every CPU convolution algorithm on every conv layer of
// bench/conv_layers.h (LeNet-5, both AlexNets, VGG-16, ResNet), at batch 1
// and 32, in GFLOP/s (2 x MACs / time), side by side with oneDNN on the same
// layers in the same run.
//
// Method: inputs and weights are random; weights are prepared (Winograd
// transform, oneDNN reorder to its preferred layout) outside the timing;
// each measurement is the median of up to --runs runs after a warm-up, or a
// single run when one run already takes over --slow_seconds. oneDNN may use
// its own blocked activation layouts (format_tag::any): the strongest peer,
// while convd computes on plain NCHW. Both use every core.
//
//   bazel run -c opt //bench:conv_bench -- [--batches=1,32] [--filter=vgg]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <ranges>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/conv_layers.h"
#include "dnnl.hpp"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/thread_pool.h"

ABSL_FLAG(std::string, batches, "1,32", "Comma-separated batch sizes.");
ABSL_FLAG(std::string, filter, "", "Only layers whose name contains this.");
ABSL_FLAG(std::string, algorithms, "",
          "Only these convd algorithms, comma-separated (e.g. winograd_f43); the others show "
          "'.' (empty: all).");
ABSL_FLAG(int, runs, 5, "Timed runs per measurement (median).");
ABSL_FLAG(double, slow_seconds, 0.5, "One run this slow is measured once.");
ABSL_FLAG(double, skip_seconds, 20.0,
          "Skip a measurement whose estimated single run exceeds this.");

namespace convd {
namespace {

template <typename Fn>
double MedianSeconds(Fn run) {
  auto time_once = [&] {
    const auto start = std::chrono::steady_clock::now();
    run();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const double warm = time_once();
  if (warm > absl::GetFlag(FLAGS_slow_seconds)) return warm;
  // Warm up for a tenth of a second, not one run: at batch 1 (about a
  // millisecond a layer) one run left the first algorithm measured after
  // oneDNN at half speed, and layers swung up to 2x between processes.
  for (double warmed = warm; warmed < 0.1;) warmed += time_once();
  std::vector<double> times;
  for (int i = 0; i < absl::GetFlag(FLAGS_runs); ++i) times.push_back(time_once());
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

std::vector<float> Random(int64_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = uniform(rng);
  return values;
}

double OneDnnSeconds(const ConvParams& p, const std::vector<float>& input,
                     const std::vector<float>& weights, const std::vector<float>& bias,
                     dnnl::engine& engine, dnnl::stream& stream) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const dnnl::memory::dims src_dims = {p.n, p.c, p.h, p.w};
  const dnnl::memory::dims dst_dims = {p.n, p.k, p.p, p.q};
  const dnnl::memory::dims weight_dims =
      p.groups > 1 ? dnnl::memory::dims{p.groups, p.k_per_group(), p.c_per_group(), p.r, p.s}
                   : dnnl::memory::dims{p.k, p.c, p.r, p.s};
  const dnnl::memory::desc src_any({src_dims}, dt::f32, tag::any);
  const dnnl::memory::desc weights_any({weight_dims}, dt::f32, tag::any);
  const dnnl::memory::desc bias_md({p.k}, dt::f32, tag::a);
  const dnnl::memory::desc dst_any({dst_dims}, dt::f32, tag::any);
  const dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_auto, src_any,
      weights_any, bias_md, dst_any, {p.stride_h, p.stride_w},
      {p.dilation_h - 1, p.dilation_w - 1}, {p.pad_top, p.pad_left},
      {p.pad_bottom, p.pad_right});
  const dnnl::convolution_forward::primitive_desc pd(desc, engine);
  // Reorder user data (NCHW) into oneDNN's chosen layouts, outside timing.
  auto prepare = [&](const dnnl::memory::desc& want, const dnnl::memory::dims& dims,
                     tag user_tag, const float* data) {
    dnnl::memory user({dims, dt::f32, user_tag}, engine, const_cast<float*>(data));
    dnnl::memory mem(want, engine);
    dnnl::reorder(user, mem).execute(stream, user, mem);
    return mem;
  };
  dnnl::memory src = prepare(pd.src_desc(), src_dims, tag::nchw, input.data());
  dnnl::memory wei = prepare(pd.weights_desc(), weight_dims,
                             p.groups > 1 ? tag::goihw : tag::oihw, weights.data());
  dnnl::memory b(bias_md, engine, const_cast<float*>(bias.data()));
  dnnl::memory dst(pd.dst_desc(), engine);
  stream.wait();
  dnnl::convolution_forward conv(pd);
  return MedianSeconds([&] {
    conv.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, b},
                          {DNNL_ARG_DST, dst}});
    stream.wait();
  });
}

int Main() {
  std::vector<int> batches;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_batches), ',')) {
    batches.push_back(std::stoi(std::string(part)));
  }
  ThreadPool* pool = ThreadPool::Default();
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  std::mt19937 rng(1);
  {
    // oneDNN's first layers in a process sometimes ran 100-1000x slow
    // (lenet5.conv1 at 0.0 GFLOP/s in about one process of three), every
    // run of the median alike, never past the first few layers. Cause not
    // found: OMP_WAIT_POLICY=passive avoided it but made oneDNN 3-5x
    // slower on these layers. A second of oneDNN runs on the first layer
    // before the table did avoid it (8 processes of 8).
    ConvParams p = bench::ToConvParams(bench::kConvLayers[0], 1);
    if (ComputeConvOutput(p).ok()) {
      const std::vector<float> input = Random(p.input_elements(), rng);
      const std::vector<float> weights = Random(p.weight_elements(), rng);
      const std::vector<float> bias = Random(p.k, rng);
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (std::chrono::steady_clock::now() < until) {
        OneDnnSeconds(p, input, weights, bias, engine, stream);
      }
    }
  }
  const auto& algorithms = cpu::AllConvAlgorithms();
  const std::string algorithms_flag = absl::GetFlag(FLAGS_algorithms);
  const absl::flat_hash_set<std::string> chosen =
      absl::StrSplit(algorithms_flag, ',', absl::SkipEmpty());
  std::printf("threads: convd %d; GFLOP/s = 2*MACs/time (median); '-' = cannot implement; "
              "'skip' = estimated over %.0f s\n",
              pool->num_threads(), absl::GetFlag(FLAGS_skip_seconds));
  // One column per algorithm, simplest first (the registry's order reversed).
  std::string header = "| layer | batch | GFLOP |", rule = "|---|---|---|";
  for (const ConvAlgorithm* algorithm : algorithms | std::views::reverse) {
    header += absl::StrFormat(" %s |", algorithm->name());
    rule += "---|";
  }
  std::printf("%s oneDNN | best convd / oneDNN |\n%s---|---|\n", header.c_str(), rule.c_str());
  for (int batch : batches) {
    for (const bench::ConvLayer& layer : bench::kConvLayers) {
      if (std::string(layer.name).find(absl::GetFlag(FLAGS_filter)) == std::string::npos) {
        continue;
      }
      ConvParams p = bench::ToConvParams(layer, batch);
      if (!ComputeConvOutput(p).ok()) return 1;
      const double gflop = 2.0 * p.macs() / 1e9;
      const std::vector<float> input = Random(p.input_elements(), rng);
      const std::vector<float> weights = Random(p.weight_elements(), rng);
      const std::vector<float> bias = Random(p.k, rng);
      std::vector<float> output(p.output_elements());
      std::string row = absl::StrFormat("| %s | %d | %.3f |", layer.name, batch, gflop);
      double best = 0.0;
      for (const ConvAlgorithm* algorithm : algorithms | std::views::reverse) {
        if (!algorithm->CanImplement(p).ok()) {
          row += " - |";
          continue;
        }
        if (!chosen.empty() && !chosen.contains(std::string(algorithm->name()))) {
          row += " . |";
          continue;
        }
        // Skip what would take too long: direct runs at 29-185 GFLOP/s here
        // (4-12 before its rewrite of 2026-12-05), so 25 is a safe floor.
        if (algorithm->name() == "direct" && gflop / 25.0 > absl::GetFlag(FLAGS_skip_seconds)) {
          row += " skip |";
          continue;
        }
        auto packed = algorithm->PrepareWeights(p, weights.data());
        AlignedBuffer workspace(algorithm->WorkspaceBytes(p, pool->num_threads()) / 4 + 1);
        ConvArgs args;
        args.params = p;
        args.input = input.data();
        args.weights = &*packed;
        args.epilogue.bias = bias.data();
        args.output = output.data();
        args.workspace = workspace.data();
        // As within a forward pass (Executor::Run), the pool's workers poll
        // between runs; oneDNN's OpenMP threads poll between its runs too.
        const ThreadPool::Burst burst(pool);
        const double seconds =
            MedianSeconds([&] { (void)algorithm->Run(args, ExecContext{pool}); });
        best = std::max(best, gflop / seconds);
        row += absl::StrFormat(" %.1f |", gflop / seconds);
      }
      const double onednn = gflop / OneDnnSeconds(p, input, weights, bias, engine, stream);
      row += absl::StrFormat(" %.1f | %.2fx |", onednn, best / onednn);
      std::printf("%s\n", row.c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace convd

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return convd::Main();
}
