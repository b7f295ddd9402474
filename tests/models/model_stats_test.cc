// The bundled models load, run, and report the published parameter and MAC
// figures (torchvision AlexNet, Caffe's original AlexNet, LeNet-5), with
// per-layer MACs for torchvision AlexNet; the memory plan reuses buffers
// without overlapping live ones.
#include <algorithm>
#include <map>
#include <string>

#include "engine/executor.h"
#include "engine/memory_plan.h"
#include "engine/model_loader.h"
#include "engine/stats.h"
#include "gtest/gtest.h"
#include "kernels/cpu/thread_pool.h"
#include "nlohmann/json.hpp"

namespace convd {
namespace {

LoadedModel Load(const std::string& name) {
  auto model = LoadModel("models/" + name, LoadOptions{});
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

TEST(ModelStatsTest, PublishedTotals) {
  const struct {
    const char* model;
    int64_t params;
    int64_t macs;
  } expected[] = {
      {"alexnet", 61'100'840, 714'188'480},
      {"alexnet_original", 60'965'224, 724'406'816},
      {"lenet5", 61'706, 416'520},
  };
  for (const auto& e : expected) {
    const LoadedModel model = Load(e.model);
    ASSERT_NE(model.plan, nullptr);
    const ModelStats stats = ComputeModelStats(*model.plan, 1);
    EXPECT_EQ(stats.total_params, e.params) << e.model;
    EXPECT_EQ(stats.total_macs, e.macs) << e.model;
    // Totals scale with the batch; params do not.
    const ModelStats batch8 = ComputeModelStats(*model.plan, 8);
    EXPECT_EQ(batch8.total_macs, 8 * e.macs) << e.model;
    EXPECT_EQ(batch8.total_params, e.params) << e.model;
    EXPECT_LT(stats.activation_arena_bytes, stats.activation_bytes_no_reuse) << e.model;
  }
}

TEST(ModelStatsTest, TorchvisionAlexNetPerLayerMacs) {
  const ModelStats stats = ComputeModelStats(*Load("alexnet").plan, 1);
  const std::map<std::string, double> expected_mmacs = {
      {"conv1", 70.28}, {"conv2", 223.95}, {"conv3", 112.14}, {"conv4", 149.52},
      {"conv5", 99.68}, {"fc6", 37.75},    {"fc7", 16.78},    {"fc8", 4.10}};
  int found = 0;
  for (const LayerStats& layer : stats.layers) {
    auto it = expected_mmacs.find(layer.name);
    if (it == expected_mmacs.end()) {
      EXPECT_EQ(layer.cost.macs, 0) << layer.name;
      continue;
    }
    ++found;
    EXPECT_NEAR(layer.cost.macs / 1e6, it->second, 0.005) << layer.name;
  }
  EXPECT_EQ(found, 8);
}

TEST(ModelStatsTest, JsonCarriesTotalsAndEveryLayer) {
  const LoadedModel model = Load("lenet5");
  Executor executor(model.plan, nullptr);
  std::vector<float> input(2 * 28 * 28, 0.25f);
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>(i % 13) / 13.0f;
  Tensor output;
  ModelStats stats;
  ASSERT_TRUE(executor.Run(input.data(), 2, output, &stats).ok());
  // Softmax output: each row sums to 1.
  for (int b = 0; b < 2; ++b) {
    double sum = 0;
    for (int c = 0; c < 10; ++c) sum += output.data()[b * 10 + c];
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
  const nlohmann::json json = nlohmann::json::parse(stats.ToJson());
  EXPECT_EQ(json["total_params"], 61706);
  EXPECT_EQ(json["total_macs"], 2 * 416520);
  EXPECT_EQ(json["batch"], 2);
  EXPECT_EQ(json["layers"].size(), stats.layers.size());
  for (const auto& layer : json["layers"]) {
    EXPECT_GE(layer["time_ms"].get<double>(), 0.0);
    if (layer["kind"] == "convolution") {
      EXPECT_FALSE(layer["algorithm"].get<std::string>().empty());
    }
  }
  EXPECT_NE(stats.ToTable().find("total"), std::string::npos);
}

TEST(MemoryPlanTest, LiveBuffersNeverOverlap) {
  for (const char* name : {"alexnet", "alexnet_original", "lenet5"}) {
    const LoadedModel model = Load(name);
    const Graph& graph = model.plan->graph;
    for (int batch : {1, 5}) {
      const MemoryPlan plan = PlanMemory(graph, batch);
      const int count = static_cast<int>(graph.layers.size());
      // Lifetime of each buffer owner: [defined, last read], reads through
      // views (flatten) counting as reads of the viewed buffer.
      std::vector<int> owner(count), last(count);
      for (int i = 0; i < count; ++i) {
        owner[i] = IsViewLayer(graph.layers[i]) ? owner[graph.layers[i].inputs[0]] : i;
        last[i] = i;
        for (int input : Graph::AllInputs(graph.layers[i])) {
          last[owner[input]] = std::max(last[owner[input]], i);
        }
      }
      last[count - 1] = count;
      for (int i = 1; i < count; ++i) {
        if (IsViewLayer(graph.layers[i])) continue;
        const int64_t size_i = graph.layers[i].output.per_sample() * batch;
        EXPECT_LE(plan.offsets[i] + size_i, plan.arena_floats);
        for (int j = i + 1; j <= last[i] && j < count; ++j) {
          if (IsViewLayer(graph.layers[j])) continue;
          const int64_t size_j = graph.layers[j].output.per_sample() * batch;
          const bool disjoint = plan.offsets[i] + size_i <= plan.offsets[j] ||
                                plan.offsets[j] + size_j <= plan.offsets[i];
          EXPECT_TRUE(disjoint) << name << ": " << graph.layers[i].name << " (live until "
                                << last[i] << ") overlaps " << graph.layers[j].name;
        }
      }
      EXPECT_GE(plan.arena_floats, plan.live_peak_floats);
    }
  }
}

// Executors reserve the largest batch's arena at load (Executor::Reserve)
// and rely on it holding every smaller batch's plan.
TEST(MemoryPlanTest, LargestBatchArenaHoldsEverySmallerBatch) {
  for (const char* name : {"alexnet", "alexnet_original", "lenet5"}) {
    const LoadedModel model = Load(name);
    const Graph& graph = model.plan->graph;
    for (int largest : {7, 64, 250}) {
      const int64_t reserved = PlanMemory(graph, largest).arena_floats;
      for (int batch = 1; batch < largest; ++batch) {
        EXPECT_LE(PlanMemory(graph, batch).arena_floats, reserved)
            << name << " at batch " << batch << " of " << largest;
      }
    }
  }
}

TEST(ExecutorTest, ReserveHoldsEveryBatchUpToTheLargest) {
  const LoadedModel model = Load("lenet5");
  Executor executor(model.plan, nullptr);
  EXPECT_EQ(executor.held_bytes(), 0);
  ASSERT_TRUE(executor.Reserve(9).ok());
  const int64_t held = executor.held_bytes();
  const ModelStats at_nine = ComputeModelStats(*model.plan, PlanMemory(model.plan->graph, 9));
  EXPECT_GE(held, at_nine.activation_arena_bytes);
  std::vector<float> input(9 * 28 * 28);
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>(i % 17) / 17.0f;
  Tensor output;
  for (int batch : {9, 1, 4}) {
    ASSERT_TRUE(executor.Run(input.data(), batch, output).ok());
    EXPECT_EQ(executor.held_bytes(), held) << "grew at batch " << batch;
  }
  EXPECT_EQ(executor.Reserve(0).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelLoaderTest, MissingAndBrokenDirectoriesFailCleanly) {
  EXPECT_EQ(LoadModel("models/no_such_model", LoadOptions{}).status().code(),
            absl::StatusCode::kNotFound);
  LoadOptions options;
  options.version = 7;
  EXPECT_EQ(LoadModel("models/lenet5", options).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace convd
