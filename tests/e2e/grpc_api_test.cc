// The KServe v2 gRPC API end to end: a real server on loopback, real gRPC
// clients, outputs compared with the engine run directly.
#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/executor.h"
#include "engine/model_config.h"
#include "engine/model_loader.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_util.h"
#include "tests/e2e/health.grpc.pb.h"

namespace convd::e2e {
namespace {

class GrpcApiTest : public SharedServerTest<GrpcApiTest> {
 public:
  static void AddModels(const std::string& repository) {
    AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
    AddModel(repository, "alexnet", "alexnet", R"pb(
      max_batch_size: 2
      input { name: "input" dims: [3, 224, 224] }
      output { name: "prob" dims: [1000] }
    )pb");
    // The same network and (seeded) weights, its fully connected weights
    // stored as FP16 on the CPU.
    AddModel(repository, "alexnet_fp16", "alexnet", R"pb(
      max_batch_size: 2
      input {
        name: "input"
        dims: [ 3, 224, 224 ]
      }
      output {
        name: "prob"
        dims: [ 1000 ]
      }
      algorithm_policy { cpu_weights: WEIGHTS_FP16 }
    )pb");
  }
  static constexpr int64_t kMaxMessageBytes = 4 << 20;
  static void Configure(ServerOptions& options) {
    options.grpc_max_message_bytes = kMaxMessageBytes;
  }

 protected:
  // The engine's own output for `input` at `batch`, loaded from the same
  // model directory.
  static std::vector<float> EngineOutput(const std::string& model, const std::vector<float>& input,
                                         int batch) {
    auto loaded = LoadModel(*repository_ + "/" + model, LoadOptions{});
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    Executor executor(loaded->plan, ThreadPool::Default());
    Tensor output;
    EXPECT_TRUE(executor.Run(input.data(), batch, output).ok());
    return std::vector<float>(output.data(), output.data() + output.elements());
  }

  grpc::Status Infer(const inference::ModelInferRequest& request,
                     inference::ModelInferResponse* response) {
    grpc::ClientContext context;
    return stub_->ModelInfer(&context, request, response);
  }
};

TEST_F(GrpcApiTest, HealthLiveReadyAndTheStandardHealthService) {
  grpc::ClientContext live_context, ready_context, health_context;
  inference::ServerLiveResponse live;
  ASSERT_TRUE(stub_->ServerLive(&live_context, {}, &live).ok());
  EXPECT_TRUE(live.live());
  inference::ServerReadyResponse ready;
  ASSERT_TRUE(stub_->ServerReady(&ready_context, {}, &ready).ok());
  EXPECT_TRUE(ready.ready());

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckResponse status;
  ASSERT_TRUE(health->Check(&health_context, {}, &status).ok());
  EXPECT_EQ(status.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(GrpcApiTest, ServerAndModelMetadata) {
  grpc::ClientContext server_context, model_context, ready_context;
  inference::ServerMetadataResponse server;
  ASSERT_TRUE(stub_->ServerMetadata(&server_context, {}, &server).ok());
  EXPECT_EQ(server.name(), "convd");
  EXPECT_NE(std::find(server.extensions().begin(), server.extensions().end(), "classification"),
            server.extensions().end());

  inference::ModelMetadataRequest request;
  request.set_name("lenet");
  inference::ModelMetadataResponse model;
  ASSERT_TRUE(stub_->ModelMetadata(&model_context, request, &model).ok());
  EXPECT_EQ(model.name(), "lenet");
  EXPECT_EQ(model.platform(), "convd_network");
  ASSERT_EQ(model.versions_size(), 1);
  EXPECT_EQ(model.versions(0), "1");
  ASSERT_EQ(model.inputs_size(), 1);
  EXPECT_EQ(model.inputs(0).name(), "input");
  EXPECT_EQ(model.inputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(model.inputs(0).shape().begin(), model.inputs(0).shape().end()),
            std::vector<int64_t>({-1, 1, 28, 28}));
  ASSERT_EQ(model.outputs_size(), 1);
  EXPECT_EQ(std::vector<int64_t>(model.outputs(0).shape().begin(),
                                 model.outputs(0).shape().end()),
            std::vector<int64_t>({-1, 10}));

  inference::ModelReadyRequest ready_request;
  ready_request.set_name("lenet");
  ready_request.set_version("1");
  inference::ModelReadyResponse ready;
  ASSERT_TRUE(stub_->ModelReady(&ready_context, ready_request, &ready).ok());
  EXPECT_TRUE(ready.ready());

  // As Triton answers: a model or version the server does not know is not
  // ready, and no error (tritonclient's is_model_ready reads False); a
  // malformed name is still one.
  for (const auto& [name, version] :
       std::vector<std::pair<std::string, std::string>>{{"absent", ""}, {"lenet", "7"}}) {
    grpc::ClientContext context;
    inference::ModelReadyRequest request;
    request.set_name(name);
    request.set_version(version);
    inference::ModelReadyResponse response;
    const grpc::Status status = stub_->ModelReady(&context, request, &response);
    EXPECT_TRUE(status.ok()) << name << " " << version << ": " << status.error_message();
    EXPECT_FALSE(response.ready()) << name << " " << version;
  }
  grpc::ClientContext malformed_context;
  inference::ModelReadyRequest malformed;
  malformed.set_name("../lenet");
  inference::ModelReadyResponse malformed_response;
  EXPECT_EQ(stub_->ModelReady(&malformed_context, malformed, &malformed_response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GrpcApiTest, ModelConfigStatesEveryDefault) {
  grpc::ClientContext context;
  inference::ModelConfigRequest request;
  request.set_name("alexnet");
  inference::ModelConfigResponse response;
  ASSERT_TRUE(stub_->ModelConfig(&context, request, &response).ok());
  const inference::ModelConfig& config = response.config();
  EXPECT_EQ(config.name(), "alexnet");
  EXPECT_EQ(config.platform(), "convd_network");
  EXPECT_EQ(config.max_batch_size(), 2);
  EXPECT_EQ(config.input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(config.input(0).format(), inference::ModelInput::FORMAT_NCHW);
  EXPECT_EQ(config.instance_group(0).count(), 1);
  EXPECT_EQ(config.version_policy().latest().num_versions(), 1u);
  EXPECT_TRUE(config.optimization().cuda().graphs());
  EXPECT_EQ(config.inline_run_limit_microseconds(), kDefaultInlineRunLimitMicroseconds);
}

TEST_F(GrpcApiTest, LenetInferenceIsExactlyTheEnginesOutput) {
  const std::vector<float> input = testing::RandomVector(3 * 28 * 28);
  const std::vector<float> expected = EngineOutput("lenet", input, 3);

  inference::ModelInferRequest request = FloatRequest("lenet", {3, 1, 28, 28}, input);
  request.set_id("request-7");
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(request, &response).ok());
  EXPECT_EQ(response.model_name(), "lenet");
  EXPECT_EQ(response.model_version(), "1");
  EXPECT_EQ(response.id(), "request-7");
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(response.outputs(0).shape().begin(),
                                 response.outputs(0).shape().end()),
            std::vector<int64_t>({3, 10}));
  EXPECT_EQ(OutputFloats(response), expected);

  // The same data as typed contents gives the same numbers.
  inference::ModelInferRequest typed = request;
  typed.clear_raw_input_contents();
  for (float v : input) typed.mutable_inputs(0)->mutable_contents()->add_fp32_contents(v);
  inference::ModelInferResponse typed_response;
  ASSERT_TRUE(Infer(typed, &typed_response).ok());
  EXPECT_EQ(OutputFloats(typed_response), expected);
}

TEST_F(GrpcApiTest, AlexnetInferenceIsExactlyTheEnginesOutput) {
  const std::vector<float> input = testing::RandomVector(3 * 224 * 224);
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(FloatRequest("alexnet", {1, 3, 224, 224}, input), &response).ok());
  EXPECT_EQ(OutputFloats(response), EngineOutput("alexnet", input, 1));
}

TEST_F(GrpcApiTest, Fp16WeightsServeTheEnginesOutputCloseToFp32) {
  const std::vector<float> input = testing::RandomVector(2 * 3 * 224 * 224);
  inference::ModelInferResponse fp16, fp32;
  ASSERT_TRUE(Infer(FloatRequest("alexnet_fp16", {2, 3, 224, 224}, input), &fp16).ok());
  ASSERT_TRUE(Infer(FloatRequest("alexnet", {2, 3, 224, 224}, input), &fp32).ok());
  const std::vector<float> served = OutputFloats(fp16), full = OutputFloats(fp32);
  EXPECT_EQ(served, EngineOutput("alexnet_fp16", input, 2));
  ASSERT_EQ(served.size(), full.size());
  double largest = 0;
  for (size_t i = 0; i < served.size(); ++i) {
    largest = std::max<double>(largest, std::abs(served[i] - full[i]) / full[i]);
  }
  EXPECT_GT(largest, 0.0) << "the FP16 model computed the FP32 weights";
  EXPECT_LT(largest, 1e-2);

  grpc::ClientContext context;
  inference::ModelConfigRequest request;
  request.set_name("alexnet_fp16");
  inference::ModelConfigResponse config;
  ASSERT_TRUE(stub_->ModelConfig(&context, request, &config).ok());
  EXPECT_EQ(config.config().algorithm_policy().cpu_weights(),
            inference::AlgorithmPolicyConfig::WEIGHTS_FP16);
}

TEST_F(GrpcApiTest, Uint8ImagesAreNormalisedByTheConfig) {
  std::vector<uint8_t> pixels(2 * 28 * 28);
  std::vector<float> scaled(pixels.size());
  for (size_t i = 0; i < pixels.size(); ++i) {
    pixels[i] = static_cast<uint8_t>(testing::Rng()() % 256);
    scaled[i] = pixels[i] * (1.0f / 255.0f);
  }
  inference::ModelInferRequest request = FloatRequest("lenet", {2, 1, 28, 28}, {});
  request.mutable_inputs(0)->set_datatype("UINT8");
  request.set_raw_input_contents(0, std::string(pixels.begin(), pixels.end()));
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(request, &response).ok());
  EXPECT_EQ(OutputFloats(response), EngineOutput("lenet", scaled, 2));
}

TEST_F(GrpcApiTest, ClassificationReturnsTopKWithLabels) {
  const std::vector<float> input = testing::RandomVector(2 * 28 * 28);
  const std::vector<float> scores = EngineOutput("lenet", input, 2);
  inference::ModelInferRequest request = FloatRequest("lenet", {2, 1, 28, 28}, input);
  auto* output = request.add_outputs();
  output->set_name("prob");
  (*output->mutable_parameters())["classification"].set_int64_param(3);
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(request, &response).ok());
  ASSERT_EQ(response.outputs(0).datatype(), "BYTES");
  EXPECT_EQ(std::vector<int64_t>(response.outputs(0).shape().begin(),
                                 response.outputs(0).shape().end()),
            std::vector<int64_t>({2, 3}));
  const std::vector<std::string> top = BytesElements(response.raw_output_contents(0));
  ASSERT_EQ(top.size(), 6u);
  for (int row = 0; row < 2; ++row) {
    const float* row_scores = scores.data() + row * 10;
    const int best = static_cast<int>(std::max_element(row_scores, row_scores + 10) - row_scores);
    // "score:index:label", highest first.
    EXPECT_EQ(top[row * 3], absl::StrFormat("%f:%d:%s", row_scores[best], best,
                                            kFashionLabels[best]));
  }
}

TEST_F(GrpcApiTest, LayerStatsComeBackAsJsonWithTheBatchSize) {
  inference::ModelInferRequest request =
      FloatRequest("lenet", {1, 1, 28, 28}, testing::RandomVector(28 * 28));
  (*request.mutable_parameters())["layer_stats"].set_bool_param(true);
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(request, &response).ok());
  const auto& parameters = response.parameters();
  ASSERT_TRUE(parameters.contains("layer_stats"));
  ASSERT_TRUE(parameters.contains("batch_size"));
  EXPECT_EQ(parameters.at("batch_size").int64_param(), 1);
  const nlohmann::json stats = nlohmann::json::parse(parameters.at("layer_stats").string_param());
  EXPECT_EQ(stats["batch"], 1);
  EXPECT_EQ(stats["total_params"], 61706);
  EXPECT_EQ(stats["total_macs"], 416520);
  ASSERT_GE(stats["layers"].size(), 5u);
  double total_ms = 0;
  for (const auto& layer : stats["layers"]) {
    for (const char* key : {"name", "algorithm", "macs", "params", "activation_bytes",
                            "workspace_bytes", "time_ms"}) {
      EXPECT_TRUE(layer.contains(key)) << key;
    }
    total_ms += layer["time_ms"].get<double>();
  }
  EXPECT_GT(total_ms, 0.0);
  EXPECT_EQ(stats["layers"][0]["name"], "conv1");
  EXPECT_FALSE(stats["layers"][0]["algorithm"].get<std::string>().empty());
}

}  // namespace
}  // namespace convd::e2e
