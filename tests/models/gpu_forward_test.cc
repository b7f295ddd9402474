// Whole networks on the GPU (engine/cuda) against the CPU executor: the
// bundled LeNet-5 and AlexNet at several batch sizes, with the heuristic's
// algorithms, autotuned ones, forced ones, and a layer sent back to the
// CPU; graphs, reserved buffers, streams per instance and the autotune
// cache. (Accuracy on a real dataset and with tensor cores:
// gpu_accuracy_test.) Skips cleanly without a GPU.
//
// Its `_emulated` twin runs it on the host emulation of CUDA
// (kernels/cuda/emulation), which checks the executor's logic (arena,
// staging copies, graph capture and replay, streams per instance) but runs
// kernels thousands of times slower: there LeNet-5 stands in for AlexNet
// (whose batch-1 fully connected layers alone take seconds).
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/cuda/cuda_executor.h"
#include "engine/executor.h"
#include "engine/memory_plan.h"
#include "engine/model_loader.h"
#include "gtest/gtest.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cuda/device.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/temp_dir.h"
#include "tests/models/gpu_model_testing.h"

namespace convd {
namespace {

using ::convd::testing::Emulated;
using ::convd::testing::LargeModel;
using ::convd::testing::LeftToGpus;
using ::convd::testing::RelativeDifference;

void ExpectGpuMatchesCpu(const std::string& model_dir, const CudaExecutorOptions& options,
                         const std::string& expect_algorithm = "") {
  auto model = LoadModel(model_dir, LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  auto gpu = CudaExecutor::Create(model->plan, options);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  std::printf("%s", (*gpu)->PlanString().c_str());
  if (!expect_algorithm.empty()) {
    const auto& names = (*gpu)->layer_algorithms();
    EXPECT_NE(std::find_if(names.begin(), names.end(),
                           [&](const std::string& n) { return n.rfind(expect_algorithm, 0) == 0; }),
              names.end())
        << "no layer runs " << expect_algorithm;
  }
  Executor cpu(model->plan, ThreadPool::Default());
  const int64_t per_image = model->plan->graph.input().output.per_sample();
  for (int batch : {1, 3, 8}) {
    const std::vector<float> input = testing::RandomVector(per_image * batch, 0, 1);
    Tensor expected, actual;
    ASSERT_TRUE(cpu.Run(input.data(), batch, expected).ok());
    ModelStats stats;
    const absl::Status run = (*gpu)->Run(input.data(), batch, actual, &stats);
    ASSERT_TRUE(run.ok()) << run;
    ASSERT_EQ(actual.shape(), expected.shape());
    EXPECT_LE(RelativeDifference(actual, expected), 1e-4) << model_dir << " batch " << batch;
    EXPECT_GT(stats.total_time_ms, 0.0);
    // The stats show the GPU's workspace, not the CPU plan's: the direct
    // kernel needs none, whatever the CPU plan's layers need.
    for (const LayerStats& layer : stats.layers) {
      if (layer.algorithm == "cuda_direct") {
        EXPECT_EQ(layer.workspace_bytes, 0) << layer.name;
      }
    }
  }
}

TEST(GpuForwardTest, LenetAndAlexnetMatchTheCpu) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  ExpectGpuMatchesCpu("models/lenet5", {}, "cuda_direct");
  if (LeftToGpus("models/alexnet")) return;
  ExpectGpuMatchesCpu("models/alexnet", {}, "cuda_winograd_f45");  // conv2, 64 -> 192
  ExpectGpuMatchesCpu("models/alexnet_original", {});
}

TEST(GpuForwardTest, AutotunedAndCpuFallbackLayersMatchToo) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  CudaExecutorOptions autotune;
  autotune.policy.mode = AlgorithmPolicy::Mode::kAutotune;
  autotune.autotune_batch = 8;
  ExpectGpuMatchesCpu(LargeModel(), autotune);
  CudaExecutorOptions fallback;
  auto model = LoadModel(LargeModel(), LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<std::string> convolutions;
  for (const Layer& layer : model->plan->graph.layers) {
    if (layer.kind == LayerKind::kConvolution) convolutions.push_back(layer.name);
  }
  ASSERT_GE(convolutions.size(), 2u);
  fallback.cpu_layers = {convolutions[1]};  // AlexNet's "conv2"
  ExpectGpuMatchesCpu(LargeModel(), fallback, "cpu:");
}

TEST(GpuForwardTest, GraphReplaysEqualEagerRunsAcrossBatchSizes) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  for (const char* model_dir : {"models/lenet5", "models/alexnet"}) {
    if (LeftToGpus(model_dir)) continue;
    auto model = LoadModel(model_dir, LoadOptions{});
    ASSERT_TRUE(model.ok()) << model.status();
    CudaExecutorOptions eager_options;
    eager_options.cuda_graphs = false;
    auto graphs = CudaExecutor::Create(model->plan, {});
    auto eager = CudaExecutor::Create(model->plan, eager_options);
    ASSERT_TRUE(graphs.ok() && eager.ok());
    EXPECT_NE((*graphs)->PlanString().find("cuda graphs: one per batch size"), std::string::npos)
        << (*graphs)->PlanString();
    const int64_t per_image = model->plan->graph.input().output.per_sample();
    // Repeats replay a graph; a larger batch moves the buffers, so the
    // smaller sizes' graphs must be captured again; stats runs stay eager.
    int run = 0;
    for (int batch : {1, 1, 1, 8, 8, 1, 3, 3, 16, 16, 1, 8}) {
      const std::vector<float> input = testing::RandomVector(per_image * batch, 0, 1);
      Tensor replayed, expected;
      ModelStats stats;
      ASSERT_TRUE((*graphs)->Run(input.data(), batch, replayed, run % 5 == 4 ? &stats : nullptr)
                      .ok())
          << model_dir << " batch " << batch;
      ASSERT_TRUE((*eager)->Run(input.data(), batch, expected).ok());
      ASSERT_EQ(replayed.shape(), expected.shape());
      EXPECT_EQ(std::memcmp(replayed.data(), expected.data(), expected.bytes()), 0)
          << model_dir << " run " << run << " batch " << batch;
      ++run;
    }
    EXPECT_EQ((*graphs)->PlanString().find("runs eagerly"), std::string::npos)
        << (*graphs)->PlanString();
  }
}

TEST(GpuForwardTest, ReservedBuffersHoldEveryBatchUpToTheLargest) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  auto model = LoadModel(LargeModel(), LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  auto gpu = CudaExecutor::Create(model->plan, {});
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  const CudaMemoryUse weights_only = (*gpu)->memory();
  const int64_t parameters = Emulated() ? 61'706 : 61'100'840;  // LeNet-5's, AlexNet's
  EXPECT_GE(weights_only.device_bytes, parameters * 4);
  EXPECT_EQ(weights_only.pinned_bytes, 0);
  ASSERT_TRUE((*gpu)->Reserve(12).ok());
  const CudaMemoryUse reserved = (*gpu)->memory();
  const int64_t per_image = model->plan->graph.input().output.per_sample();
  EXPECT_GE(reserved.device_bytes - weights_only.device_bytes,
            PlanMemory(model->plan->graph, 12).arena_floats * 4 + 12 * per_image * 4);
  const int64_t per_output = model->plan->graph.output().output.per_sample();
  EXPECT_GE(reserved.pinned_bytes, 12 * (per_image + per_output) * 4);
  Executor cpu(model->plan, ThreadPool::Default());
  for (int batch : {12, 1, 5, 12, 5}) {  // repeats replay graphs captured on reserved buffers
    const std::vector<float> input = testing::RandomVector(per_image * batch, 0, 1);
    Tensor expected, actual;
    ASSERT_TRUE(cpu.Run(input.data(), batch, expected).ok());
    ASSERT_TRUE((*gpu)->Run(input.data(), batch, actual).ok());
    EXPECT_LE(RelativeDifference(actual, expected), 1e-4) << "batch " << batch;
    EXPECT_EQ((*gpu)->memory().device_bytes, reserved.device_bytes) << "grew at " << batch;
    EXPECT_EQ((*gpu)->memory().pinned_bytes, reserved.pinned_bytes) << "grew at " << batch;
  }
  EXPECT_EQ((*gpu)->Reserve(0).code(), absl::StatusCode::kInvalidArgument);
}

// The server gathers a batch straight into the executor's pinned staging
// buffer (InputStaging); a run from there computes what a run from any
// other memory does.
TEST(GpuForwardTest, InputGatheredIntoTheStagingBufferRunsAsAnyInput) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  auto model = LoadModel("models/lenet5", LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  auto gpu = CudaExecutor::Create(model->plan, {});
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  const int64_t per_image = model->plan->graph.input().output.per_sample();
  for (int batch : {3, 1, 5}) {
    const std::vector<float> input = testing::RandomVector(per_image * batch, 0, 1);
    Tensor expected, actual;
    ASSERT_TRUE((*gpu)->Run(input.data(), batch, expected).ok());
    absl::StatusOr<float*> staging = (*gpu)->InputStaging(batch);
    ASSERT_TRUE(staging.ok()) << staging.status();
    std::memcpy(*staging, input.data(), input.size() * sizeof(float));
    ASSERT_TRUE((*gpu)->Run(*staging, batch, actual).ok());
    ASSERT_EQ(actual.shape(), expected.shape());
    EXPECT_EQ(std::memcmp(actual.data(), expected.data(), expected.bytes()), 0) << batch;
  }
  EXPECT_EQ((*gpu)->InputStaging(0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GpuForwardTest, InstancesOnTheirOwnStreamsRunConcurrently) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  auto model = LoadModel(LargeModel(), LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  // As the server runs a model with instance_group count 3: one executor
  // per thread, each on its own stream, all at once, each with its own
  // inputs; every result must equal what one executor computes alone.
  constexpr int kInstances = 3, kRuns = 6;
  const int64_t per_image = model->plan->graph.input().output.per_sample();
  std::vector<std::vector<float>> inputs;
  std::vector<Tensor> expected(kInstances);
  auto reference = CudaExecutor::Create(model->plan, {});
  ASSERT_TRUE(reference.ok()) << reference.status();
  for (int i = 0; i < kInstances; ++i) {
    inputs.push_back(testing::RandomVector(per_image * (i + 1), 0, 1));
    ASSERT_TRUE((*reference)->Run(inputs[i].data(), i + 1, expected[i]).ok());
  }
  std::vector<std::unique_ptr<CudaExecutor>> instances;
  for (int i = 0; i < kInstances; ++i) {
    auto instance = CudaExecutor::Create(model->plan, {});
    ASSERT_TRUE(instance.ok()) << instance.status();
    instances.push_back(std::move(*instance));
  }
  std::vector<int> mismatches(kInstances, 0), failures(kInstances, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      for (int run = 0; run < kRuns; ++run) {
        Tensor output;
        if (!instances[i]->Run(inputs[i].data(), i + 1, output).ok()) {
          ++failures[i];
        } else if (std::memcmp(output.data(), expected[i].data(), expected[i].bytes()) != 0) {
          ++mismatches[i];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kInstances; ++i) {
    EXPECT_EQ(failures[i], 0) << "instance " << i;
    EXPECT_EQ(mismatches[i], 0) << "instance " << i;
  }
}

// What a policy forces (model config FORCED or layer_algorithm, convrun
// --algo) the GPU runs wherever it can: every name a policy may use, the
// GPU-only ones included, runs its own kernels on the layers it can
// implement (matching the CPU) and the heuristic elsewhere, saying why; a
// per-layer choice survives autotuning, and a name no backend has fails.
TEST(GpuForwardTest, ForcedAlgorithmsRunWhereTheyCanAndMatchTheCpu) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  auto model = LoadModel(LargeModel(), LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<Layer>& layers = model->plan->graph.layers;
  std::vector<std::string> names(std::begin(kGpuOnlyConvAlgorithms),
                                 std::end(kGpuOnlyConvAlgorithms));
  for (const ConvAlgorithm* algorithm : CpuConvCandidates()) names.emplace_back(algorithm->name());
  for (const std::string& name : names) {
    CudaExecutorOptions options;
    options.policy = *PolicyFromName(name);
    auto gpu = CudaExecutor::Create(model->plan, options);
    ASSERT_TRUE(gpu.ok()) << name << ": " << gpu.status();
    const std::string ours = "cuda_" + name;
    const std::vector<std::string> plan = absl::StrSplit((*gpu)->PlanString(), '\n');
    bool ran = false;
    for (size_t i = 1; i < layers.size(); ++i) {
      if (layers[i].kind != LayerKind::kConvolution) continue;
      const std::string& algorithm = (*gpu)->layer_algorithms()[i];
      ran |= algorithm == ours;
      // Elsewhere (Winograd F(2x2,3x3) on 5x5 layers, F(2x2,5x5) on 3x3
      // and 11x11 ones) the layer's line says why.
      auto line = std::find_if(plan.begin(), plan.end(), [&](const std::string& l) {
        return l.rfind(layers[i].name + " ", 0) == 0;
      });
      ASSERT_NE(line, plan.end()) << layers[i].name;
      EXPECT_TRUE(algorithm == ours
                      ? line->find("forced " + name) != std::string::npos
                      : line->find("forced " + name + " cannot run this layer; heuristic: ") !=
                                std::string::npos ||
                            line->find("forced " + name + " runs on the CPU only; heuristic: ") !=
                                std::string::npos)
          << *line;
    }
    std::printf("forced %s: %s\n", name.c_str(), ran ? "runs" : "falls back everywhere");
    ExpectGpuMatchesCpu(LargeModel(), options, ran ? ours : "");
  }

  auto first_conv = std::find_if(layers.begin(), layers.end(), [](const Layer& layer) {
    return layer.kind == LayerKind::kConvolution;
  });
  ASSERT_NE(first_conv, layers.end());
  const size_t index = first_conv - layers.begin();
  CudaExecutorOptions per_layer;
  per_layer.policy.mode = AlgorithmPolicy::Mode::kAutotune;
  per_layer.policy.per_layer[first_conv->name] = "implicit_gemm";
  auto gpu = CudaExecutor::Create(model->plan, per_layer);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  EXPECT_EQ((*gpu)->layer_algorithms()[index], "cuda_implicit_gemm");
  EXPECT_NE((*gpu)->PlanString().find("forced implicit_gemm"), std::string::npos);
  EXPECT_NE((*gpu)->PlanString().find("autotuned at batch"), std::string::npos)
      << "the other layers are autotuned";
  per_layer.policy.per_layer[first_conv->name] = "fft";
  const absl::Status unknown = CudaExecutor::Create(model->plan, per_layer).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument) << unknown;
  EXPECT_NE(unknown.message().find("unknown algorithm 'fft'"), std::string::npos) << unknown;
}

// algorithm_policy.cpu_weights is the CPU's: a plan that keeps the floats
// (a GPU instance runs it) computes on the GPU exactly as an FP32 plan;
// one planned for no GPU instance holds only the halves, and the GPU
// refuses it, naming the layer, rather than read weights it lacks.
TEST(GpuForwardTest, CpuFp16WeightsLeaveTheGpuInFp32) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  auto fp32 = LoadModel("models/lenet5", LoadOptions{});
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  LoadOptions options;
  options.cpu_weights_override = AlgorithmPolicy::CpuWeights::kFp16;
  auto fp16 = LoadModel("models/lenet5", options);
  ASSERT_TRUE(fp16.ok()) << fp16.status();
  auto gpu_fp32 = CudaExecutor::Create(fp32->plan, {});
  auto gpu_fp16 = CudaExecutor::Create(fp16->plan, {});
  ASSERT_TRUE(gpu_fp32.ok()) << gpu_fp32.status();
  ASSERT_TRUE(gpu_fp16.ok()) << gpu_fp16.status();
  const std::vector<float> input = testing::RandomVector(3 * 28 * 28, 0, 1);
  Tensor expected, actual;
  ASSERT_TRUE((*gpu_fp32)->Run(input.data(), 3, expected).ok());
  ASSERT_TRUE((*gpu_fp16)->Run(input.data(), 3, actual).ok());
  EXPECT_EQ(std::vector<float>(actual.data(), actual.data() + actual.elements()),
            std::vector<float>(expected.data(), expected.data() + expected.elements()));

  options.gpu_runs_plan = false;
  auto halves_only = LoadModel("models/lenet5", options);
  ASSERT_TRUE(halves_only.ok()) << halves_only.status();
  const absl::Status refused = CudaExecutor::Create(halves_only->plan, {}).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_NE(refused.message().find("only as the CPU's FP16"), std::string::npos) << refused;
}

// What a served model's config asks of its GPU instances.
TEST(GpuForwardTest, ExecutorOptionsFollowTheModelConfig) {
  auto model = LoadModel("models/lenet5", LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  inference::ModelConfig config = model->config;
  AutotuneCache cache("");
  CudaExecutorOptions options = ExecutorOptionsFor(*model->plan, config, &cache);
  EXPECT_EQ(options.autotune_batch, 64);  // the bundled max_batch_size
  EXPECT_EQ(options.autotune_cache, &cache);
  EXPECT_EQ(options.math, cuda::GemmMath::kFp32);
  EXPECT_EQ(options.policy.mode, model->plan->policy.mode);
  EXPECT_TRUE(options.cuda_graphs) << "on unless the config says otherwise";
  config.mutable_optimization()->mutable_cuda()->set_graphs(false);
  config.mutable_algorithm_policy()->set_gpu_math(inference::AlgorithmPolicyConfig::TF32);
  options = ExecutorOptionsFor(*model->plan, config, nullptr);
  EXPECT_FALSE(options.cuda_graphs);
  EXPECT_EQ(options.math, cuda::GemmMath::kTf32);
  config.mutable_optimization()->mutable_cuda()->set_graphs(true);
  EXPECT_TRUE(ExecutorOptionsFor(*model->plan, config, nullptr).cuda_graphs);
}

TEST(GpuForwardTest, AutotuneDecisionsComeBackFromTheCache) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  auto model = LoadModel(LargeModel(), LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string path = testing::MakeTempDir("gpu_autotune") + "/cache.tsv";
  AutotuneCache cache(path);
  CudaExecutorOptions options;
  options.policy.mode = AlgorithmPolicy::Mode::kAutotune;
  options.autotune_batch = 4;
  options.autotune_cache = &cache;
  auto first = CudaExecutor::Create(model->plan, options);
  ASSERT_TRUE(first.ok()) << first.status();
  const auto& layers = model->plan->graph.layers;
  const size_t convolutions = std::count_if(layers.begin(), layers.end(), [](const Layer& layer) {
    return layer.kind == LayerKind::kConvolution;
  });
  EXPECT_EQ(cache.size(), convolutions) << "one decision per convolution";
  AutotuneCache reloaded(path);
  options.autotune_cache = &reloaded;
  auto second = CudaExecutor::Create(model->plan, options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)->layer_algorithms(), (*first)->layer_algorithms());
  EXPECT_NE((*second)->PlanString().find("(cache)"), std::string::npos) << (*second)->PlanString();

  // The same decisions from another build of the kernels: timed afresh.
  std::string lines;
  {
    std::ifstream file(path);
    for (std::string line; std::getline(file, line);) {
      std::vector<std::string> fields = absl::StrSplit(line, '\t');
      ASSERT_EQ(fields.size(), 6u) << line;
      EXPECT_NE(fields[2].find("/cuda"), std::string::npos) << "the kernels' build: " << line;
      fields[2] = "0000000000000000/cuda0";
      lines += absl::StrJoin(fields, "\t") + "\n";
    }
  }
  std::ofstream(path) << lines;
  AutotuneCache other_build(path);
  ASSERT_EQ(other_build.size(), convolutions);
  options.autotune_cache = &other_build;
  auto third = CudaExecutor::Create(model->plan, options);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ((*third)->PlanString().find("(cache)"), std::string::npos) << (*third)->PlanString();
  EXPECT_EQ(other_build.size(), 2 * convolutions) << "this build's decisions join the other's";
}

// Once the policy's budget is spent, the layers left keep the heuristic's
// algorithm, say so, and leave nothing in the cache (they were not timed).
TEST(GpuForwardTest, AutotuningStopsWhenItsBudgetIsSpent) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  auto model = LoadModel(LargeModel(), LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  AutotuneCache cache(testing::MakeTempDir("gpu_autotune_budget") + "/cache.tsv");
  CudaExecutorOptions options;
  options.policy.mode = AlgorithmPolicy::Mode::kAutotune;
  options.policy.autotune_budget_ms = 0;
  options.autotune_cache = &cache;
  auto gpu = CudaExecutor::Create(model->plan, options);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  auto heuristic = CudaExecutor::Create(model->plan, CudaExecutorOptions{});
  ASSERT_TRUE(heuristic.ok()) << heuristic.status();
  EXPECT_EQ((*gpu)->layer_algorithms(), (*heuristic)->layer_algorithms());
  const std::string plan = (*gpu)->PlanString();
  const auto& layers = model->plan->graph.layers;
  const auto convolutions = std::count_if(layers.begin(), layers.end(), [](const Layer& layer) {
    return layer.kind == LayerKind::kConvolution;
  });
  int spent = 0;
  for (size_t at = plan.find("autotune budget of 0 ms spent; "); at != std::string::npos;
       at = plan.find("autotune budget of 0 ms spent; ", at + 1)) {
    ++spent;
  }
  EXPECT_EQ(spent, convolutions) << plan;
  EXPECT_EQ(cache.size(), 0u);
}

TEST(GpuForwardTest, CreateWithoutADeviceIsUnavailable) {
  if (cuda::DeviceAvailable()) GTEST_SKIP() << "a device is present";
  auto model = LoadModel("models/lenet5", LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  auto gpu = CudaExecutor::Create(model->plan, {});
  EXPECT_EQ(gpu.status().code(), absl::StatusCode::kUnavailable) << gpu.status();
}

}  // namespace
}  // namespace convd
