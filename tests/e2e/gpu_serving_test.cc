// convd serving on the GPU end to end: the real server on loopback with
// --device=cuda, the bundled LeNet-5 as shipped (ONNX, warmup, KIND_AUTO),
// spoken to over gRPC and HTTP, and a copy with two instances that autotune
// (decisions kept on disk). Fashion-MNIST predictions equal PyTorch's
// through concurrent, dynamically batched requests; per-layer stats come
// from the GPU executor; /metrics reports the device's memory; a model the
// device cannot hold is not ready, says why, and leaves the others serving.
//
// Built twice (tests/e2e/BUILD, cuda_test): on a GPU, where it skips
// without one (bench/gpu_check.sh runs it), and on the host emulation of
// CUDA, in every `make test`, with the first 2,000 images instead of all.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "client/http_connection.h"
#include "engine/file_util.h"
#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_util.h"
#include "tests/models/fashion_mnist.h"

namespace convd::e2e {
namespace {

namespace fs = std::filesystem;

bool NoDevice() { return !cuda::DeviceAvailable(); }

// A repository holding the bundled models/<network> as shipped, as `name`.
void CopyBundledModel(const std::string& repository, const std::string& network,
                      const std::string& name) {
  fs::copy(fs::path("models") / network, fs::path(repository) / name, fs::copy_options::recursive);
}

// The bundled LeNet-5 as `name`, on the GPU with `instance_group` and
// `algorithm_policy` in its config.
void AddLenetVariant(const std::string& repository, const std::string& name,
                     const std::string& instance_group, const std::string& algorithm_policy) {
  CopyBundledModel(repository, "lenet5", name);
  const fs::path config_path = fs::path(repository) / name / "config.pbtxt";
  std::string config = ReadFile(config_path.string()).value_or("");
  for (auto [from, to] :
       {std::pair<std::string, std::string>{"name: \"lenet5\"", "name: \"" + name + "\""},
        {"instance_group { count: 1 kind: KIND_AUTO }", instance_group},
        {"algorithm_policy { mode: AUTO }", algorithm_policy}}) {
    const size_t at = config.find(from);
    ASSERT_NE(at, std::string::npos) << from << " not in the bundled config";
    config.replace(at, from.size(), to);
  }
  std::ofstream(config_path) << config;
}

std::unique_ptr<Server> StartOnTheGpu(const std::string& repository,
                                      const std::string& autotune_cache = "") {
  ServerOptions options = LoopbackOptions(repository);
  options.device = "cuda";
  options.autotune_cache = autotune_cache;
  return StartServer(options);
}

class GpuServingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (NoDevice()) return;
    repository_ = new std::string(MakeTempDir("gpu_serving_repository"));
    autotune_cache_ = new std::string(MakeTempDir("gpu_serving_autotune") + "/decisions.tsv");
    CopyBundledModel(*repository_, "lenet5", "lenet5");
    // Two instances that autotune their convolutions at load. The budget is
    // ten minutes, not the default 30 s: under ASan the emulated GPU times
    // one convolution at batch 64 in tens of seconds, and a budget spent
    // after conv1 would leave conv2 untimed and out of the cache.
    AddLenetVariant(*repository_, "lenet5_autotuned", "instance_group { count: 2 kind: KIND_GPU }",
                    "algorithm_policy { mode: AUTOTUNE autotune_budget_ms: 600000 }");
    // A GPU-only algorithm forced by the config (the CPU's plan answers it
    // with its heuristic; the GPU runs it), and no CUDA graphs (Triton's
    // optimization field): every pass launched kernel by kernel.
    AddLenetVariant(*repository_, "lenet5_implicit", "instance_group { count: 1 kind: KIND_GPU }",
                    "algorithm_policy { mode: FORCED algorithm: \"implicit_gemm\" }\n"
                    "optimization { cuda { graphs: false } }");
    server_ = StartOnTheGpu(*repository_, *autotune_cache_).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete repository_;
    repository_ = nullptr;
    delete autotune_cache_;
    autotune_cache_ = nullptr;
  }
  void SetUp() override {
    if (NoDevice()) GTEST_SKIP() << cuda::DeviceDescription();
    ASSERT_NE(server_, nullptr);
    stub_ = Connect(server_->grpc_port());
  }

  static inline std::string* repository_ = nullptr;
  static inline std::string* autotune_cache_ = nullptr;
  static inline Server* server_ = nullptr;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

TEST_F(GpuServingTest, TheBundledModelRunsOnTheGpu) {
  grpc::ClientContext context;
  inference::ModelConfigRequest request;
  request.set_name("lenet5");
  inference::ModelConfigResponse response;
  ASSERT_TRUE(stub_->ModelConfig(&context, request, &response).ok());
  ASSERT_EQ(response.config().instance_group_size(), 1);
  // KIND_AUTO as shipped, resolved as Triton does on a server with a GPU.
  EXPECT_EQ(response.config().instance_group(0).kind(), inference::ModelInstanceGroup::KIND_GPU);
}

TEST_F(GpuServingTest, AutotuningDecisionsAreKeptOnDiskPerDeviceBuildShapeAndBatch) {
  // One line per convolution (LeNet-5 has two), timed at the model's
  // max_batch_size by the first instance and found by the second.
  const std::string cache = ReadFile(*autotune_cache_).value_or("");
  const std::vector<std::string> lines = absl::StrSplit(cache, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << cache;
  for (const std::string& line : lines) {
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    ASSERT_EQ(fields.size(), 6u) << line;
    EXPECT_EQ(fields[0], cuda::DeviceDescription());
    EXPECT_NE(fields[2].find("/cuda"), std::string::npos) << "the kernels' build: " << line;
    EXPECT_EQ(fields[4], "64");
    EXPECT_TRUE(absl::StartsWith(fields[5], "cuda_")) << line;
  }
}

TEST_F(GpuServingTest, FashionMnistPredictionsEqualPytorchsThroughConcurrentRequests) {
  auto images = testing::ReadIdxImages(testing::FashionMnistDir() + "/t10k-images-idx3-ubyte.gz");
  ASSERT_TRUE(images.ok()) << images.status() << " (install dataset-fashion-mnist)";
  std::vector<int> pytorch;
  std::ifstream predictions("models/lenet5/1/fashion_mnist_test_predictions.txt");
  for (int value; predictions >> value;) pytorch.push_back(value);
  ASSERT_EQ(pytorch.size(), 10000u);
  const int count = cuda::DeviceIsEmulated() ? 2000 : images->count;
  const int pixels = images->rows * images->cols;

  // Four clients, each sending its quarter in requests of 1 to 16 images,
  // so the scheduler batches rows of different requests together; two to
  // the model as shipped, two to the autotuned one with two instances.
  constexpr int kClients = 4;
  std::vector<int> served(count, -1);
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = Connect(server_->grpc_port());
      const std::string model = c % 2 == 0 ? "lenet5" : "lenet5_autotuned";
      const int first = count * c / kClients, end = count * (c + 1) / kClients;
      for (int start = first, size = 1 + c; start < end; start += size, size = size % 16 + 1) {
        const int rows = std::min(size, end - start);
        std::vector<float> input(size_t{1} * rows * pixels);
        for (size_t i = 0; i < input.size(); ++i) {
          input[i] = images->pixels[size_t{1} * start * pixels + i] / 255.0f;
        }
        grpc::ClientContext context;
        inference::ModelInferResponse response;
        const grpc::Status status =
            stub->ModelInfer(&context, FloatRequest(model, {rows, 1, 28, 28}, input), &response);
        if (!status.ok()) {
          ADD_FAILURE() << model << ", images " << start << "+" << rows << ": "
                        << status.error_message();
          ++failures;
          continue;
        }
        const std::vector<float> scores = OutputFloats(response);
        if (scores.size() != size_t{10} * rows) {
          ADD_FAILURE() << model << ", images " << start << "+" << rows << ": " << scores.size()
                        << " scores";
          ++failures;
          continue;
        }
        for (int r = 0; r < rows; ++r) {
          const float* row = scores.data() + 10 * r;
          served[start + r] = static_cast<int>(std::max_element(row, row + 10) - row);
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  ASSERT_EQ(failures.load(), 0);
  int agree = 0;
  for (int i = 0; i < count; ++i) {
    agree += served[i] == pytorch[i];
    EXPECT_EQ(served[i], pytorch[i]) << "test image " << i;
  }
  std::printf("served on %s: %d of %d predictions equal PyTorch's\n",
              cuda::DeviceDescription().c_str(), agree, count);
}

TEST_F(GpuServingTest, LayerStatsComeFromTheGpuKernels) {
  std::vector<float> input(3 * 28 * 28);
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>((i * 37) % 256) / 255;
  inference::ModelInferRequest request = FloatRequest("lenet5", {3, 1, 28, 28}, input);
  (*request.mutable_parameters())["layer_stats"].set_bool_param(true);
  grpc::ClientContext context;
  inference::ModelInferResponse response;
  const grpc::Status status = stub_->ModelInfer(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(response.parameters().contains("layer_stats"));
  const nlohmann::json stats =
      nlohmann::json::parse(response.parameters().at("layer_stats").string_param());
  ASSERT_GE(stats["layers"].size(), 5u);
  double total_ms = 0;
  for (const auto& layer : stats["layers"]) {
    // Every LeNet-5 layer has a GPU kernel: none falls back to the CPU.
    EXPECT_TRUE(absl::StartsWith(layer["algorithm"].get<std::string>(), "cuda_"))
        << layer["name"] << ": " << layer["algorithm"];
    total_ms += layer["time_ms"].get<double>();  // from CUDA events
  }
  EXPECT_GT(total_ms, 0.0);
}

// Layer stats of one 3-image request to `model`, and its scores.
void InferWithLayerStats(inference::GRPCInferenceService::Stub& stub, const std::string& model,
                         nlohmann::json* stats, std::vector<float>* scores) {
  std::vector<float> input(3 * 28 * 28);
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>((i * 37) % 256) / 255;
  inference::ModelInferRequest request = FloatRequest(model, {3, 1, 28, 28}, input);
  (*request.mutable_parameters())["layer_stats"].set_bool_param(true);
  grpc::ClientContext context;
  inference::ModelInferResponse response;
  const grpc::Status status = stub.ModelInfer(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(response.parameters().contains("layer_stats"));
  *stats = nlohmann::json::parse(response.parameters().at("layer_stats").string_param());
  ASSERT_EQ(response.raw_output_contents_size(), 1);
  const std::string& raw = response.raw_output_contents(0);
  scores->resize(raw.size() / sizeof(float));
  std::memcpy(scores->data(), raw.data(), raw.size());
}

TEST_F(GpuServingTest, AConfigsForcedAlgorithmRunsOnTheGpu) {
  nlohmann::json forced_stats, stats;
  std::vector<float> forced_scores, scores;
  ASSERT_NO_FATAL_FAILURE(
      InferWithLayerStats(*stub_, "lenet5_implicit", &forced_stats, &forced_scores));
  ASSERT_NO_FATAL_FAILURE(InferWithLayerStats(*stub_, "lenet5", &stats, &scores));
  int convolutions = 0;
  for (const auto& layer : forced_stats["layers"]) {
    if (layer["kind"] != "convolution") continue;
    ++convolutions;
    EXPECT_EQ(layer["algorithm"], "cuda_implicit_gemm") << layer["name"];
  }
  EXPECT_EQ(convolutions, 2);
  ASSERT_EQ(forced_scores.size(), scores.size());
  ASSERT_EQ(scores.size(), 30u);
  for (size_t i = 0; i < scores.size(); ++i) {
    EXPECT_NEAR(forced_scores[i], scores[i], 1e-4) << "score " << i;
  }
}

TEST_F(GpuServingTest, MetricsReportTheDevicesMemory) {
  size_t free_bytes = 0, total_bytes = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_bytes, &total_bytes), cudaSuccess);
  const client::HttpResult metrics = client::HttpCall(server_->metrics_port(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  const std::string gpu = absl::StrCat("{gpu=\"", cuda::DeviceDescription(), "\"}");
  EXPECT_EQ(PrometheusSample(metrics.body, "convd_gpu_memory_total_bytes" + gpu),
            static_cast<double>(total_bytes))
      << metrics.body;
  // At least LeNet-5's 61,706 weights are on the device.
  EXPECT_GE(PrometheusSample(metrics.body, "convd_gpu_memory_used_bytes" + gpu), 61706.0 * 4)
      << metrics.body;
}

// Fills the device but for `leave` bytes, for as long as it lives.
class DeviceMemoryHog {
 public:
  explicit DeviceMemoryHog(size_t leave) {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess || free_bytes <= leave) return;
    // A GPU's free memory is not all in one piece: back off until it fits.
    for (size_t bytes = free_bytes - leave; bytes > free_bytes / 2; bytes -= 64 << 20) {
      if (cudaMalloc(&memory_, bytes) == cudaSuccess) return;
      (void)cudaGetLastError();
    }
    memory_ = nullptr;
  }
  ~DeviceMemoryHog() { cudaFree(memory_); }
  bool holding() const { return memory_ != nullptr; }

 private:
  void* memory_ = nullptr;
};

TEST(GpuServingOutOfMemoryTest, AModelTheDeviceCannotHoldIsNotReadyAndSaysWhy) {
  if (NoDevice()) GTEST_SKIP() << cuda::DeviceDescription();
  // 128 MiB free: LeNet-5 fits, AlexNet's 244 MB of weights do not.
  DeviceMemoryHog hog(size_t{128} << 20);
  ASSERT_TRUE(hog.holding());
  const std::string repository = MakeTempDir("gpu_out_of_memory_repository");
  CopyBundledModel(repository, "lenet5", "lenet5");
  CopyBundledModel(repository, "alexnet", "alexnet");
  std::unique_ptr<Server> server = StartOnTheGpu(repository);
  ASSERT_NE(server, nullptr);
  const std::unique_ptr<client::Client> client = client::CreateClient(
      {.protocol = client::Protocol::kGrpc, .host = "127.0.0.1", .port = server->grpc_port()});

  const absl::StatusOr<bool> ready = client->ModelReady("alexnet", "");
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_FALSE(*ready);
  const absl::StatusOr<inference::RepositoryIndexResponse> index = client->RepositoryIndex();
  ASSERT_TRUE(index.ok()) << index.status();
  const auto* alexnet = IndexEntry(*index, "alexnet");
  ASSERT_NE(alexnet, nullptr);
  EXPECT_EQ(alexnet->state(), "UNAVAILABLE");
  EXPECT_TRUE(absl::StrContains(alexnet->reason(), "out of memory")) << alexnet->reason();
  const absl::Status refused =
      client->Infer(FloatRequest("alexnet", {1, 3, 224, 224}, std::vector<float>(3 * 224 * 224, 1)))
          .status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  // The model that fits serves.
  std::vector<float> input(28 * 28);
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>(i % 29) / 29;
  const absl::StatusOr<inference::ModelInferResponse> response =
      client->Infer(FloatRequest("lenet5", {1, 1, 28, 28}, input));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(OutputFloats(*response).size(), 10u);
}

}  // namespace
}  // namespace convd::e2e
