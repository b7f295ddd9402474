// convrun: runs a model directory locally and prints the per-layer table.
//
//   bazel run -c opt //tools:convrun -- models/alexnet --batch 8 --algo autotune
//   bazel run -c opt //tools:convrun -- models/lenet5 --json
//
// The forward pass runs on random inputs (seeded, so runs are comparable);
// --repeat N runs it N times after one warm-up and reports each layer's
// median time and the median total (so the layers need not add up to it). --device=cuda runs it on the GPU backend (builds with
// nvcc; --algo applies to the GPU's algorithms too: autotune times them, a
// forced one runs wherever it can, implicit_gemm only there). --throughput
// prints one JSON line instead: the median wall-clock time of a whole
// forward pass, host copies included and without per-layer timing (so the
// GPU replays its CUDA graph), and images/s. On the GPU the input starts in
// page-locked host memory, where the server gathers a batch's requests.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "engine/executor.h"
#ifdef CONVD_WITH_CUDA
#include "engine/cuda/cuda_executor.h"
#endif
#include "engine/model_loader.h"
#include "kernels/cpu/thread_pool.h"

ABSL_FLAG(int, batch, 1, "Batch size of the forward pass.");
ABSL_FLAG(std::string, algo, "",
          "Convolution algorithm policy: auto, autotune, direct, im2col, "
          "winograd_f23, winograd_f43, winograd_f25, winograd_f45, winograd_f43_s2d (CPU only) or "
          "implicit_gemm (GPU only). "
          "Default: the model "
          "config's policy.");
ABSL_FLAG(bool, json, false, "Print the stats as JSON instead of a table.");
ABSL_FLAG(int, repeat, 5, "Timed runs after one warm-up; the median is reported.");
ABSL_FLAG(int, threads, 0, "Worker threads (0: one per core).");
ABSL_FLAG(bool, plan, false, "Also print the execution plan (one line per layer).");
ABSL_FLAG(std::string, device, "cpu", "cpu, or cuda (the GPU backend).");
ABSL_FLAG(std::string, gpu_math, "",
          "With --device=cuda: fp32, or tf32 or fp16 (tensor cores) for the matrix products. "
          "Default: the model config's algorithm_policy.gpu_math.");
ABSL_FLAG(std::string, cpu_weights, "",
          "With --device=cpu: fp32, or fp16 (fully connected weights stored as halves, half the "
          "bytes to read). Default: the model config's algorithm_policy.cpu_weights.");
ABSL_FLAG(bool, throughput, false,
          "Print the median wall-clock time per forward pass and images/s as JSON.");

namespace convd {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "convrun: %s\n", std::string(status.ToString()).c_str());
  return 1;
}

int Main(const std::string& model_dir) {
  const int batch = absl::GetFlag(FLAGS_batch);
  if (batch < 1) return Fail(absl::InvalidArgumentError("--batch must be at least 1"));
  const int threads = absl::GetFlag(FLAGS_threads);
  ThreadPool own_pool(threads > 0 ? threads : 1);
  ThreadPool* pool = threads > 0 ? &own_pool : ThreadPool::Default();

  LoadOptions options;
  options.thread_pool = pool;
  options.autotune_batch = batch;
  // On the GPU, --algo autotune times the GPU's algorithms, not the CPU's.
  options.autotune_cpu = absl::GetFlag(FLAGS_device) != "cuda";
  options.gpu_runs_plan = absl::GetFlag(FLAGS_device) == "cuda";
  if (const std::string weights = absl::GetFlag(FLAGS_cpu_weights); !weights.empty()) {
    if (weights != "fp32" && weights != "fp16") {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--cpu_weights must be fp32 or fp16; got '", weights, "'")));
    }
    if (!options.gpu_runs_plan) {
      options.cpu_weights_override = weights == "fp16" ? AlgorithmPolicy::CpuWeights::kFp16
                                                       : AlgorithmPolicy::CpuWeights::kFp32;
    } else {
      std::fprintf(stderr, "convrun: note: --cpu_weights applies to --device=cpu\n");
    }
  }
  if (const std::string algo = absl::GetFlag(FLAGS_algo); !algo.empty()) {
    auto policy = PolicyFromName(algo);
    if (!policy.ok()) return Fail(policy.status());
    options.policy_override = *policy;
  }
  auto model = LoadModel(model_dir, options);
  if (!model.ok()) return Fail(model.status());
  if (batch > model->config.max_batch_size()) {
    std::fprintf(stderr, "convrun: note: batch %d exceeds the config's max_batch_size %d\n",
                 batch, model->config.max_batch_size());
  }
  if (model->generated_weights) {
    std::fprintf(stderr, "convrun: no weights file; using seeded He-initialised weights\n");
  }
  if (absl::GetFlag(FLAGS_plan)) std::cout << model->plan->DebugString() << "\n";

  const TensorShape input_shape = model->plan->graph.input().output.WithBatch(batch);
  std::vector<float> input(input_shape.elements());
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& v : input) v = uniform(rng);

  // One forward pass on the chosen backend.
  std::function<absl::Status(int, Tensor&, ModelStats*)> run;
  std::unique_ptr<Executor> cpu;
  const std::string device = absl::GetFlag(FLAGS_device);
  if (device == "cpu") {
    if (!absl::GetFlag(FLAGS_gpu_math).empty()) {
      std::fprintf(stderr, "convrun: note: --gpu_math applies to --device=cuda; the CPU computes "
                           "in FP32\n");
    }
    cpu = std::make_unique<Executor>(model->plan, pool);
    run = [&](int b, Tensor& out, ModelStats* stats) {
      return cpu->Run(input.data(), b, out, stats);
    };
  } else if (device == "cuda") {
#ifdef CONVD_WITH_CUDA
    // As the server's instances run (the policy is --algo's, else the
    // config's), autotuning at --batch.
    CudaExecutorOptions gpu_options = ExecutorOptionsFor(*model->plan, model->config, nullptr);
    gpu_options.autotune_batch = batch;
    if (const std::string math = absl::GetFlag(FLAGS_gpu_math); !math.empty()) {
      const std::optional<cuda::GemmMath> parsed = cuda::GemmMathFromName(math);
      if (!parsed.has_value()) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("--gpu_math must be ", cuda::kGemmMathChoices, "; got '", math, "'")));
      }
      gpu_options.math = *parsed;
    }
    auto gpu = CudaExecutor::Create(model->plan, gpu_options);
    if (!gpu.ok()) return Fail(gpu.status());
    if (absl::GetFlag(FLAGS_plan)) std::cout << (*gpu)->PlanString() << "\n";
    std::shared_ptr<CudaExecutor> executor = std::move(*gpu);
    // The input lives where the server gathers its batches: the executor's
    // page-locked staging buffer, which Run sends to the device without a
    // host copy first (as PyTorch's pinned input in e2e_vs_pytorch.py). It
    // is filled again only if the buffer moves.
    run = [&input, executor, staged = static_cast<float*>(nullptr)](
              int b, Tensor& out, ModelStats* stats) mutable -> absl::Status {
      absl::StatusOr<float*> staging = executor->InputStaging(b);
      if (!staging.ok()) return staging.status();
      if (*staging != staged) {
        std::memcpy(*staging, input.data(), input.size() * sizeof(float));
        staged = *staging;
      }
      return executor->Run(*staging, b, out, stats);
    };
#else
    return Fail(absl::UnavailableError("this convrun was built without CUDA (--define=cuda=0)"));
#endif
  } else {
    return Fail(absl::InvalidArgumentError("--device must be cpu or cuda; got '" + device + "'"));
  }
  Tensor output;
  if (absl::Status status = run(batch, output, nullptr); !status.ok()) return Fail(status);
  const int repeats = std::max(1, absl::GetFlag(FLAGS_repeat));
  if (absl::GetFlag(FLAGS_throughput)) {
    if (absl::Status status = run(batch, output, nullptr); !status.ok()) return Fail(status);
    std::vector<double> wall_ms;
    for (int i = 0; i < repeats; ++i) {
      const auto start = std::chrono::steady_clock::now();
      if (absl::Status status = run(batch, output, nullptr); !status.ok()) return Fail(status);
      wall_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
    std::sort(wall_ms.begin(), wall_ms.end());
    const double median = wall_ms[wall_ms.size() / 2];
    std::printf("{\"model\": \"%s\", \"device\": \"%s\", \"batch\": %d, \"runs\": %d, "
                "\"median_ms\": %.4f, \"images_per_second\": %.1f}\n",
                model->config.name().c_str(), device.c_str(), batch, repeats, median,
                batch * 1000.0 / median);
    return 0;
  }
  std::vector<ModelStats> runs(repeats);
  for (ModelStats& stats : runs) {
    if (absl::Status status = run(batch, output, &stats); !status.ok()) return Fail(status);
  }
  std::sort(runs.begin(), runs.end(), [](const ModelStats& a, const ModelStats& b) {
    return a.total_time_ms < b.total_time_ms;
  });
  // Each layer's own median: one run's layers swing with the machine (a
  // pass whose convolutions ran slow may have had a fast fc6), and the
  // table is read layer by layer.
  ModelStats median = runs[runs.size() / 2];
  std::vector<double> layer_ms(runs.size());
  for (size_t layer = 0; layer < median.layers.size(); ++layer) {
    for (size_t run_index = 0; run_index < runs.size(); ++run_index) {
      layer_ms[run_index] = runs[run_index].layers[layer].time_ms;
    }
    std::nth_element(layer_ms.begin(), layer_ms.begin() + layer_ms.size() / 2, layer_ms.end());
    median.layers[layer].time_ms = layer_ms[layer_ms.size() / 2];
  }
  std::cout << (absl::GetFlag(FLAGS_json) ? median.ToJson() + "\n" : median.ToTable());
  return 0;
}

}  // namespace
}  // namespace convd

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "convrun <model dir> [--batch N] [--algo auto|autotune|direct|im2col|"
      "winograd_f23|winograd_f43|winograd_f25|winograd_f45|winograd_f43_s2d|implicit_gemm] "
      "[--json] [--repeat N] "
      "[--threads N] "
      "[--plan] "
      "[--device cpu|cuda] [--cpu_weights fp32|fp16] [--throughput]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr, "usage: %s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  return convd::Main(args[1]);
}
