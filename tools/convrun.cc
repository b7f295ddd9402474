// convrun: runs a model directory locally and prints the per-layer table.
//
//   bazel run -c opt //tools:convrun -- models/alexnet --batch 8 --algo autotune
//   bazel run -c opt //tools:convrun -- models/lenet5 --json
//
// The forward pass runs on random inputs (seeded, so runs are comparable);
// --repeat N runs it N times after one warm-up and reports the run with the
// median total time.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "engine/executor.h"
#include "engine/model_loader.h"
#include "kernels/cpu/thread_pool.h"

ABSL_FLAG(int, batch, 1, "Batch size of the forward pass.");
ABSL_FLAG(std::string, algo, "",
          "Convolution algorithm policy: auto, autotune, direct, im2col, "
          "winograd_f23 or winograd_f43. Default: the model config's policy.");
ABSL_FLAG(bool, json, false, "Print the stats as JSON instead of a table.");
ABSL_FLAG(int, repeat, 5, "Timed runs after one warm-up; the median is reported.");
ABSL_FLAG(int, threads, 0, "Worker threads (0: one per core).");
ABSL_FLAG(bool, plan, false, "Also print the execution plan (one line per layer).");

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

  Executor executor(model->plan, pool);
  Tensor output;
  if (absl::Status status = executor.Run(input.data(), batch, output); !status.ok()) {
    return Fail(status);
  }
  const int repeats = std::max(1, absl::GetFlag(FLAGS_repeat));
  std::vector<ModelStats> runs(repeats);
  for (ModelStats& stats : runs) {
    if (absl::Status status = executor.Run(input.data(), batch, output, &stats); !status.ok()) {
      return Fail(status);
    }
  }
  std::sort(runs.begin(), runs.end(), [](const ModelStats& a, const ModelStats& b) {
    return a.total_time_ms < b.total_time_ms;
  });
  const ModelStats& median = runs[runs.size() / 2];
  std::cout << (absl::GetFlag(FLAGS_json) ? median.ToJson() + "\n" : median.ToTable());
  return 0;
}

}  // namespace
}  // namespace convd

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "convrun <model dir> [--batch N] [--algo auto|autotune|direct|im2col|"
      "winograd_f23|winograd_f43] [--json] [--repeat N] [--threads N] [--plan]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr, "usage: %s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  return convd::Main(args[1]);
}
