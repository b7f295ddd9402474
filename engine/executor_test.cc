// Whole networks through the planner and executor under every algorithm
// policy, against the float64 reference forward pass of the unsimplified
// graph (so BN folding and epilogue fusion are checked too).
#include "engine/executor.h"

#include <string>

#include "engine/graph_passes.h"
#include "engine/model_config.h"
#include "engine/network_loader.h"
#include "engine/planner.h"
#include "engine/testing/reference_forward.h"
#include "engine/weights.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/testing/numeric.h"

namespace convd {
namespace {

using ::convd::testing::MaxRelativeError;
using ::convd::testing::RandomVector;

// Every layer kind, residual and concat branches, BN after a conv (folded)
// and after a pool (not folded), odd sizes.
constexpr char kEveryLayerNetwork[] = R"pb(
  name: "every_layer"
  input { name: "data" channels: 3 height: 19 width: 17 }
  layer { name: "conv1" convolution { num_output: 16 kernel: 3 pad: 1 } }
  layer { name: "bn1" batch_norm { eps: 1e-5 } }
  layer { name: "relu1" activation { type: RELU } }
  layer { name: "conv2" convolution { num_output: 16 kernel: 3 pad: 1 } }
  layer { name: "res" input: "conv2" input: "relu1" add {} }
  layer { name: "relu2" activation { type: RELU } }
  layer { name: "pool1" pooling { method: MAX kernel: 3 stride: 2 ceil_mode: true } }
  layer { name: "bn2" batch_norm {} }
  layer { name: "norm1" lrn { size: 3 alpha: 0.01 beta: 0.75 k: 2 } }
  layer { name: "branch_a" input: "norm1" convolution { num_output: 5 kernel: 1 } }
  layer { name: "branch_b" input: "norm1" convolution { num_output: 6 kernel: 5 pad: 2 groups: 2 } }
  layer { name: "tanh_b" activation { type: TANH } }
  layer { name: "joined" input: "branch_a" input: "tanh_b" concat {} }
  layer { name: "pool2" pooling { method: AVERAGE kernel: 3 stride: 2 pad: 1 count_include_pad: false } }
  layer { name: "flat" flatten {} }
  layer { name: "drop" dropout {} }
  layer { name: "fc1" fully_connected { num_output: 20 } }
  layer { name: "sig" activation { type: SIGMOID } }
  layer { name: "fc2" fully_connected { num_output: 7 } }
  layer { name: "prob" softmax { log: true } }
)pb";

Graph BuildWithRandomWeights(const char* text) {
  auto definition = ParseNetworkDef(text);
  EXPECT_TRUE(definition.ok()) << definition.status();
  auto graph = GraphFromNetworkDef(*definition);
  EXPECT_TRUE(graph.ok()) << graph.status();
  for (Layer& layer : graph->layers) {
    for (const ParameterSpec& spec : ParameterSpecs(*graph, layer)) {
      int64_t count = 1;
      for (int64_t dim : spec.shape) count *= dim;
      const bool variance = spec.suffix == "running_var";
      layer.*spec.member = RandomVector(count, variance ? 0.5f : -0.5f, variance ? 2.0f : 0.5f);
    }
  }
  return *std::move(graph);
}

TEST(ExecutorTest, EveryLayerKindMatchesReferenceUnderEveryPolicy) {
  const Graph original = BuildWithRandomWeights(kEveryLayerNetwork);
  Graph simplified = original;
  SimplifyGraph(simplified);
  // bn1+relu1 into conv1, res+relu2 into conv2, tanh_b into branch_b, sig
  // into fc1, drop removed; bn2 (after a pool) stays.
  std::vector<std::string> names;
  for (const Layer& layer : simplified.layers) names.push_back(layer.name);
  EXPECT_EQ(names, (std::vector<std::string>{"data", "conv1", "conv2", "pool1", "bn2", "norm1",
                                             "branch_a", "branch_b", "joined", "pool2", "flat",
                                             "fc1", "fc2", "prob"}));
  EXPECT_EQ(simplified.layers[2].residual_input, 1);
  EXPECT_EQ(simplified.layers[2].fused, (std::vector<std::string>{"res", "relu2"}));
  ThreadPool pool(2);
  for (const std::string policy_name :
       {"auto", "autotune", "direct", "im2col", "winograd_f23", "winograd_f43", "winograd_f25",
        "winograd_f45", "winograd_f43_s2d"}) {
    auto policy = PolicyFromName(policy_name);
    ASSERT_TRUE(policy.ok());
    PlanOptions options;
    options.policy = *policy;
    options.thread_pool = &pool;
    options.autotune_repeats = 1;
    auto plan = Plan(simplified, options);
    ASSERT_TRUE(plan.ok()) << plan.status();
    Executor executor(std::shared_ptr<const ExecutionPlan>(std::move(*plan)), &pool);
    for (int batch : {1, 3}) {
      const std::vector<float> input = RandomVector(3 * 19 * 17 * batch);
      Tensor output;
      ModelStats stats;
      ASSERT_TRUE(executor.Run(input.data(), batch, output, &stats).ok());
      EXPECT_EQ(output.shape(), (TensorShape{batch, 7, 1, 1}));
      const double error =
          MaxRelativeError(output.data(), testing::ReferenceForward(original, input.data(), batch));
      EXPECT_LE(error, testing::HasLargeWinogradTiles(policy_name) ? 1e-4 : 2e-5)
          << "policy " << policy_name << " batch " << batch << "\n"
          << executor.plan().DebugString();
      EXPECT_GT(stats.total_time_ms, 0.0);
    }
  }
}

TEST(ExecutorTest, StatsJsonReadsBackToTheSameTable) {
  // Clients print the server's layer_stats with the same ToTable: the JSON
  // must carry every number the table shows.
  ThreadPool pool(2);
  const Graph original = BuildWithRandomWeights(kEveryLayerNetwork);
  Graph simplified = original;
  SimplifyGraph(simplified);
  PlanOptions options;
  options.thread_pool = &pool;
  auto plan = Plan(simplified, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  Executor executor(std::shared_ptr<const ExecutionPlan>(std::move(*plan)), &pool);
  const std::vector<float> input = RandomVector(3 * 19 * 17 * 2);
  Tensor output;
  ModelStats stats;
  ASSERT_TRUE(executor.Run(input.data(), 2, output, &stats).ok());
  auto read = ModelStatsFromJson(stats.ToJson());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->ToTable(), stats.ToTable());
  EXPECT_EQ(read->layers.size(), stats.layers.size());
  EXPECT_FALSE(ModelStatsFromJson("{\"layers\": 3}").ok());
  EXPECT_FALSE(ModelStatsFromJson("not json").ok());
}

TEST(ExecutorTest, RunsOnMoreThreadsThanThePlanWasMadeWith) {
  // A plan made single-threaded (e.g. by a tool) served on a wider pool:
  // the workspace must be sized for the pool that runs it.
  const Graph original = BuildWithRandomWeights(kEveryLayerNetwork);
  Graph simplified = original;
  SimplifyGraph(simplified);
  for (const std::string policy_name : {"im2col", "winograd_f43"}) {
    PlanOptions options;
    options.policy = *PolicyFromName(policy_name);
    auto plan = Plan(simplified, options);
    ASSERT_TRUE(plan.ok()) << plan.status();
    ThreadPool pool(3);
    Executor executor(std::shared_ptr<const ExecutionPlan>(std::move(*plan)), &pool);
    const int batch = 4;
    const std::vector<float> input = RandomVector(3 * 19 * 17 * batch);
    Tensor output;
    ASSERT_TRUE(executor.Run(input.data(), batch, output).ok());
    EXPECT_LE(
        MaxRelativeError(output.data(), testing::ReferenceForward(original, input.data(), batch)),
        testing::HasLargeWinogradTiles(policy_name) ? 1e-4 : 2e-5)
        << policy_name;
  }
}

TEST(ExecutorTest, RunsIntoTheSameOutputMemoryAtTheSameBatch) {
  // A server instance's output tensor lives from one batch to the next:
  // at the batch size it already holds, a run writes over it in place.
  const Graph original = BuildWithRandomWeights(kEveryLayerNetwork);
  Graph simplified = original;
  SimplifyGraph(simplified);
  auto plan = Plan(simplified, PlanOptions{});
  ASSERT_TRUE(plan.ok()) << plan.status();
  Executor executor(std::shared_ptr<const ExecutionPlan>(std::move(*plan)), nullptr);
  Tensor output;
  const float* memory = nullptr;
  for (int batch : {3, 3, 2}) {
    const std::vector<float> input = RandomVector(3 * 19 * 17 * batch);
    ASSERT_TRUE(executor.Run(input.data(), batch, output).ok());
    EXPECT_EQ(output.shape(), (TensorShape{batch, 7, 1, 1}));
    EXPECT_LE(
        MaxRelativeError(output.data(), testing::ReferenceForward(original, input.data(), batch)),
        2e-5)
        << "batch " << batch;
    if (memory != nullptr && batch == 3) {
      EXPECT_EQ(output.data(), memory);
    }
    memory = output.data();
  }
}

TEST(ExecutorTest, RejectsBadBatch) {
  Graph graph = BuildWithRandomWeights(kEveryLayerNetwork);
  auto plan = Plan(graph, PlanOptions{});
  ASSERT_TRUE(plan.ok());
  Executor executor(std::shared_ptr<const ExecutionPlan>(std::move(*plan)), nullptr);
  Tensor output;
  const std::vector<float> input(3 * 19 * 17, 1.0f);
  EXPECT_EQ(executor.Run(input.data(), 0, output).message(),
            "batch size must be positive; got 0");
  EXPECT_EQ(executor.Run(nullptr, 1, output).code(), absl::StatusCode::kInvalidArgument);
}

TEST(PlannerTest, NeverPicksAnAlgorithmThatCannotImplementTheLayer) {
  Graph graph = BuildWithRandomWeights(kEveryLayerNetwork);
  SimplifyGraph(graph);
  for (const std::string name :
       {"auto", "autotune", "direct", "im2col", "winograd_f23", "winograd_f43", "winograd_f25",
        "winograd_f45", "winograd_f43_s2d", "implicit_gemm"}) {
    PlanOptions options;
    options.policy = *PolicyFromName(name);
    options.autotune_repeats = 1;
    auto plan = Plan(graph, options);
    ASSERT_TRUE(plan.ok()) << plan.status();
    for (size_t i = 0; i < graph.layers.size(); ++i) {
      if (graph.layers[i].kind != LayerKind::kConvolution) continue;
      const ConvAlgorithm* algorithm = (*plan)->layers[i].algorithm;
      ASSERT_NE(algorithm, nullptr);
      EXPECT_TRUE(algorithm->CanImplement(ConvParamsFor(graph, graph.layers[i], 1)).ok())
          << name << " picked " << algorithm->name() << " for " << graph.layers[i].name;
    }
  }
  // Forcing Winograd on the 5x5 branch falls back and says why.
  PlanOptions forced;
  forced.policy = *PolicyFromName("winograd_f43");
  auto plan = Plan(graph, forced);
  ASSERT_TRUE(plan.ok());
  const PlannedLayer& branch = (*plan)->layers[graph.Find("branch_b")];
  EXPECT_NE(branch.algorithm->name(), "winograd_f43");
  EXPECT_NE(branch.why.find("forced winograd_f43 cannot: winograd_f43 needs 3x3 stride 1 "
                            "dilation 1; got 5x5"),
            std::string::npos)
      << branch.why;
  EXPECT_NE(branch.why.find("; heuristic: "), std::string::npos) << branch.why;
  EXPECT_EQ(branch.why.find("heuristic: heuristic"), std::string::npos) << branch.why;
}

// A strided layer whose filter becomes 3x3 over 48+ channels after
// space-to-depth, 80%+ of the taps its own (6x6 stride 2 over 12
// channels: 3x3 over 48, no zeros), runs winograd_f43_s2d by default, with
// batch norm and ReLU folded into it; 5x5 stride 2 (25 of 36 taps) does
// not. The network still matches the float64 reference.
TEST(PlannerTest, StridedLayersThatBecome3x3RunWinogradAfterSpaceToDepth) {
  const Graph original = BuildWithRandomWeights(R"pb(
    name: "strided"
    input { name: "data" channels: 12 height: 39 width: 37 }
    layer { name: "conv1" convolution { num_output: 16 kernel: 6 stride: 2 pad: 2 } }
    layer { name: "bn1" batch_norm { eps: 1e-5 } }
    layer { name: "relu1" activation { type: RELU } }
    layer { name: "conv2" convolution { num_output: 8 kernel: 5 stride: 2 pad: 2 } }
    layer { name: "flat" flatten {} }
    layer { name: "fc1" fully_connected { num_output: 5 } }
  )pb");
  Graph simplified = original;
  SimplifyGraph(simplified);
  ThreadPool pool(2);
  PlanOptions options;
  options.thread_pool = &pool;
  auto plan = Plan(simplified, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const PlannedLayer& conv1 = (*plan)->layers[simplified.Find("conv1")];
  EXPECT_EQ(conv1.algorithm->name(), "winograd_f43_s2d") << conv1.why;
  EXPECT_NE(conv1.why.find("6x6 stride 2 becomes 3x3 over 48 channels, 36 of 36 taps"),
            std::string::npos)
      << conv1.why;
  // 10x9 outputs over 64 channels after the rearrangement, but 25 of 36 taps.
  const PlannedLayer& conv2 = (*plan)->layers[simplified.Find("conv2")];
  EXPECT_EQ(conv2.algorithm->name(), "direct") << conv2.why;
  Executor executor(std::shared_ptr<const ExecutionPlan>(std::move(*plan)), &pool);
  for (int batch : {1, 3}) {
    const std::vector<float> input = RandomVector(12 * 39 * 37 * batch);
    Tensor output;
    ASSERT_TRUE(executor.Run(input.data(), batch, output).ok());
    const double error =
        MaxRelativeError(output.data(), testing::ReferenceForward(original, input.data(), batch));
    EXPECT_LE(error, 1e-4) << "batch " << batch;
  }
}

// algorithm_policy.cpu_weights WEIGHTS_FP16: the fully connected layers
// (one wider than a widened block of 24 features) run on their weights'
// halves, so the output is the float64 reference's of the rounded weights,
// not of the original ones; the floats are freed when no GPU runs the plan.
TEST(PlannerTest, Fp16FullyConnectedWeightsComputeWithTheRoundedWeights) {
  const Graph original = BuildWithRandomWeights(R"pb(
    name: "fc_fp16"
    input { name: "data" channels: 3 height: 9 width: 11 }
    layer { name: "conv1" convolution { num_output: 8 kernel: 3 } }
    layer { name: "flat" flatten {} }
    layer { name: "fc1" fully_connected { num_output: 53 } }
    layer { name: "relu1" activation { type: RELU } }
    layer { name: "fc2" fully_connected { num_output: 10 } }
  )pb");
  Graph rounded = original;
  int64_t fc_weights = 0;
  for (Layer& layer : rounded.layers) {
    if (layer.kind != LayerKind::kFullyConnected) continue;
    for (float& w : layer.weight) w = cpu::HalfToFloat(cpu::FloatToHalf(w));
    fc_weights += static_cast<int64_t>(layer.weight.size());
  }
  Graph simplified = original;
  SimplifyGraph(simplified);
  ThreadPool pool(2);
  PlanOptions options;
  options.thread_pool = &pool;
  auto fp32_plan = Plan(simplified, options);
  ASSERT_TRUE(fp32_plan.ok()) << fp32_plan.status();
  options.policy.cpu_weights = AlgorithmPolicy::CpuWeights::kFp16;
  options.gpu_runs_plan = false;
  auto plan = Plan(simplified, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const char* name : {"fc1", "fc2"}) {
    const int index = (*plan)->graph.Find(name);
    EXPECT_TRUE((*plan)->layers[index].weight_halves) << name;
    EXPECT_TRUE((*plan)->graph.layers[index].weight.empty()) << name;
  }
  // Two bytes a weight, where there were four (fc1: 8*7*9*53 is even,
  // fc2: 53*10 too).
  EXPECT_EQ((*fp32_plan)->HostWeightBytes() - (*plan)->HostWeightBytes(), 2 * fc_weights);
  Executor executor(std::shared_ptr<const ExecutionPlan>(std::move(*plan)), &pool);
  for (int batch : {1, 3}) {
    const std::vector<float> input = RandomVector(3 * 9 * 11 * batch);
    Tensor output;
    ModelStats stats;
    ASSERT_TRUE(executor.Run(input.data(), batch, output, &stats).ok());
    EXPECT_LE(
        MaxRelativeError(output.data(), testing::ReferenceForward(rounded, input.data(), batch)),
        2e-5)
        << "batch " << batch;
    EXPECT_GT(
        MaxRelativeError(output.data(), testing::ReferenceForward(original, input.data(), batch)),
        1e-5)
        << "batch " << batch << ": the original weights' result; were they rounded?";
    EXPECT_EQ(stats.layers[3].algorithm, "fully_connected fp16") << stats.layers[3].name;
  }

  simplified.layers[simplified.Find("fc2")].weight[17] = -7e4f;
  auto out_of_range = Plan(simplified, options);
  EXPECT_EQ(out_of_range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out_of_range.status().message(), ::testing::HasSubstr("layer 'fc2': weight 17"));

  // The model config's field.
  inference::AlgorithmPolicyConfig config;
  EXPECT_EQ(PolicyFromConfig(config)->cpu_weights, AlgorithmPolicy::CpuWeights::kFp32);
  config.set_cpu_weights(inference::AlgorithmPolicyConfig::WEIGHTS_FP16);
  EXPECT_EQ(PolicyFromConfig(config)->cpu_weights, AlgorithmPolicy::CpuWeights::kFp16);
  config.set_cpu_weights(static_cast<inference::AlgorithmPolicyConfig::CpuWeights>(7));
  EXPECT_EQ(PolicyFromConfig(config).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PlannerTest, PerLayerOverridesAndUnknownNames) {
  Graph graph = BuildWithRandomWeights(kEveryLayerNetwork);
  SimplifyGraph(graph);
  PlanOptions options;
  options.policy.per_layer["conv1"] = "direct";
  auto plan = Plan(graph, options);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ((*plan)->layers[graph.Find("conv1")].algorithm->name(), "direct");
  options.policy.per_layer["conv1"] = "fft";
  EXPECT_NE(Plan(graph, options).status().message().find("unknown algorithm 'fft'"),
            std::string::npos);
  options.policy.per_layer = {{"pool1", "direct"}};
  EXPECT_EQ(Plan(graph, options).status().message(),
            "algorithm policy names layer 'pool1', which is not a convolution");
  EXPECT_FALSE(PolicyFromName("fastest").ok());
  EXPECT_NE(PolicyFromName("fastest").status().message().find("implicit_gemm (GPU)"),
            std::string::npos)
      << PolicyFromName("fastest").status();
}

// Autotuning stops timing once the policy's budget is spent: the layers
// left keep the heuristic's choice and say why. The model config sets the
// budget (0: the default).
TEST(PlannerTest, AutotuneStopsWhenItsBudgetIsSpent) {
  Graph graph = BuildWithRandomWeights(kEveryLayerNetwork);
  SimplifyGraph(graph);
  PlanOptions options;
  options.policy = *PolicyFromName("autotune");
  options.autotune_repeats = 1;
  for (int64_t budget_ms : {int64_t{0}, AlgorithmPolicy::kDefaultAutotuneBudgetMs}) {
    options.policy.autotune_budget_ms = budget_ms;
    auto plan = Plan(graph, options);
    ASSERT_TRUE(plan.ok()) << plan.status();
    int convolutions = 0;
    for (size_t i = 0; i < graph.layers.size(); ++i) {
      if (graph.layers[i].kind != LayerKind::kConvolution) continue;
      ++convolutions;
      const std::string& why = (*plan)->layers[i].why;
      if (budget_ms == 0) {
        EXPECT_EQ(why.rfind("autotune budget of 0 ms spent; heuristic: ", 0), 0u) << why;
      } else {
        EXPECT_EQ(why.rfind("autotune at batch 1: ", 0), 0u) << why;
        EXPECT_EQ(why.find("budget"), std::string::npos) << why;
      }
    }
    EXPECT_GE(convolutions, 2);
  }
  inference::AlgorithmPolicyConfig config;
  config.set_mode(inference::AlgorithmPolicyConfig::AUTOTUNE);
  EXPECT_EQ(PolicyFromConfig(config)->autotune_budget_ms,
            AlgorithmPolicy::kDefaultAutotuneBudgetMs);
  config.set_autotune_budget_ms(1234);
  EXPECT_EQ(PolicyFromConfig(config)->autotune_budget_ms, 1234);
}

// A GPU-only algorithm is a valid policy (one config serves on either
// device), and the CPU plan says it took the heuristic instead.
TEST(PlannerTest, GpuOnlyAlgorithmsFallBackToTheHeuristicOnTheCpu) {
  Graph graph = BuildWithRandomWeights(kEveryLayerNetwork);
  SimplifyGraph(graph);
  auto policy = PolicyFromName("implicit_gemm");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->mode, AlgorithmPolicy::Mode::kForced);
  PlanOptions options;
  options.policy = *policy;
  options.policy.per_layer["conv1"] = "implicit_gemm";
  auto plan = Plan(graph, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ((*plan)->policy.algorithm, "implicit_gemm");  // kept for the GPU backend
  EXPECT_EQ((*plan)->policy.per_layer.at("conv1"), "implicit_gemm");
  const PlannedLayer& conv1 = (*plan)->layers[graph.Find("conv1")];
  ASSERT_NE(conv1.algorithm, nullptr);
  EXPECT_EQ(conv1.why.rfind("forced implicit_gemm runs on the GPU only; heuristic: ", 0), 0u)
      << conv1.why;
  EXPECT_EQ(conv1.why.find("heuristic: heuristic"), std::string::npos) << conv1.why;
}

}  // namespace
}  // namespace convd
