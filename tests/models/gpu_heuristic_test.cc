// The GPU heuristic's picks per batch size (engine/cuda/cuda_layers.cc
// ConvForBatch): a layer loaded with batch 1's pick runs what the rule
// picks at another batch wherever it holds the weights for it, each run
// against the CPU executor and named in the stats. Skips cleanly without
// a GPU; its `_emulated` twin runs it on the host emulation of CUDA.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/cuda/cuda_executor.h"
#include "engine/executor.h"
#include "engine/model_loader.h"
#include "gtest/gtest.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cuda/device.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/temp_dir.h"

namespace convd {
namespace {

using ::convd::testing::MaxRelativeError;

// Writes `text` to `path`, creating its directory.
bool WriteTextFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

// A model of one layer "conv": 3x3 filters, 16 of them, padding 1 and
// `stride`, on 64 channels of side x side; written under `repository` as
// `name`. Its directory, or "" when it could not be written.
std::string WriteOneConvModel(const std::string& repository, const std::string& name, int side,
                              int stride, int max_batch) {
  const std::string dir = repository + "/" + name;
  const int out_side = (side + 2 - 3) / stride + 1;
  const std::string config = absl::StrFormat(
      "name: '%s' platform: 'convd_network' max_batch_size: %d\n"
      "input { name: 'input' data_type: TYPE_FP32 format: FORMAT_NCHW dims: [64, %d, %d] }\n"
      "output { name: 'conv' data_type: TYPE_FP32 dims: [16, %d, %d] }\n",
      name, max_batch, side, side, out_side, out_side);
  const std::string network = absl::StrFormat(
      "name: '%s'\ninput { name: 'input' channels: 64 height: %d width: %d }\n"
      "layer { name: 'conv' convolution { num_output: 16 kernel: 3 stride: %d pad: 1 } }\n",
      name, side, side, stride);
  const bool written = WriteTextFile(dir + "/config.pbtxt", config) &&
                       WriteTextFile(dir + "/1/network.pbtxt", network);
  return written ? dir : "";
}

// The heuristic chooses a layer's algorithm at batch 1, and a batch it
// gives another runs that instead where the layer holds its weights:
// LeNet-5's conv2 is direct up to a few million MACs, implicit GEMM (same
// weights, no workspace) at batch 64; a 3x3 stride-2 layer of 64 channels
// (576 products an output, too deep for direct) is im2col at batch 1 (16
// output columns), implicit GEMM at batch 128 (2,048); a 3x3 stride-1
// layer on a 12x12 plane is Winograd F(2x2) at batch 1 (9 4x4 tiles) and
// F(4x4), with its own filters, from batch 2.
void ExpectLayerRunsPerBatch(const std::string& model_dir, const std::string& layer_name,
                             const std::string& at_load, int large_batch,
                             const std::string& at_large_batch = "cuda_implicit_gemm") {
  auto model = LoadModel(model_dir, LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  auto gpu = CudaExecutor::Create(model->plan, {});
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  const Graph& graph = model->plan->graph;
  int index = -1;
  for (size_t i = 0; i < graph.layers.size(); ++i) {
    if (graph.layers[i].name == layer_name) index = static_cast<int>(i);
  }
  ASSERT_GE(index, 0) << layer_name;
  EXPECT_EQ((*gpu)->layer_algorithms()[index], at_load);
  EXPECT_NE((*gpu)->PlanString().find("larger batches as the heuristic picks"), std::string::npos)
      << (*gpu)->PlanString();
  Executor cpu(model->plan, ThreadPool::Default());
  const int64_t per_image = graph.input().output.per_sample();
  for (int batch : {1, large_batch}) {
    const std::vector<float> input = testing::RandomVector(per_image * batch, 0, 1);
    Tensor expected, actual;
    ASSERT_TRUE(cpu.Run(input.data(), batch, expected).ok());
    ModelStats stats;
    ASSERT_TRUE((*gpu)->Run(input.data(), batch, actual, &stats).ok());
    EXPECT_LE(MaxRelativeError(actual.data(),
                               std::vector<double>(expected.data(),
                                                   expected.data() + expected.shape().elements())),
              1e-4)
        << model_dir << " batch " << batch;
    const std::string expected_name = batch == 1 ? at_load : at_large_batch;
    EXPECT_EQ((*gpu)->AlgorithmAt(index, batch), expected_name) << "batch " << batch;
    bool found = false;
    for (const LayerStats& layer : stats.layers) {
      if (layer.name != layer_name) continue;
      found = true;
      EXPECT_EQ(layer.algorithm, expected_name) << "batch " << batch;
    }
    EXPECT_TRUE(found) << layer_name;
  }
}

TEST(GpuHeuristicTest, ALayerRunsWhatTheHeuristicPicksAtEachBatchWhereItHoldsTheWeights) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  ExpectLayerRunsPerBatch("models/lenet5", "/conv2/Conv", "cuda_direct", 64);
  const std::string repository = testing::MakeTempDir("gpu_per_batch");
  const std::string strided = WriteOneConvModel(repository, "strided", 8, 2, 128);
  ASSERT_FALSE(strided.empty());
  ExpectLayerRunsPerBatch(strided, "conv", "cuda_im2col", 128);
  const std::string small_plane = WriteOneConvModel(repository, "small_plane", 12, 1, 8);
  ASSERT_FALSE(small_plane.empty());
  ExpectLayerRunsPerBatch(small_plane, "conv", "cuda_winograd_f23", 3, "cuda_winograd_f43");
}

}  // namespace
}  // namespace convd
