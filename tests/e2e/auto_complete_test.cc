// A model folder holding nothing but an ONNX file, served over real gRPC:
// its config is completed from the file (Triton's auto-complete), served as
// it runs, and its answers match the float64 reference of that file.
// --disable-auto-complete-config makes the same folder no model.
#include <filesystem>

#include "absl/strings/match.h"
#include "engine/model_autocomplete.h"
#include "engine/onnx_loader.h"
#include "engine/testing/reference_forward.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

namespace fs = std::filesystem;

// "dropped": the bundled LeNet-5's model.onnx alone; "lenet": a model with
// a written config.
std::string MakeRepository() {
  const std::string repository = MakeTempDir("auto_complete_repository");
  fs::create_directories(fs::path(repository) / "dropped" / "1");
  fs::copy_file("models/lenet5/1/model.onnx",
                fs::path(repository) / "dropped" / "1" / "model.onnx");
  AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  return repository;
}

TEST(AutoCompleteTest, AnOnnxFileAloneServesWithTheConfigReadOffIt) {
  const std::string repository = MakeRepository();
  std::unique_ptr<Server> server = StartServer(LoopbackOptions(repository));
  ASSERT_NE(server, nullptr);
  auto stub = Connect(server->grpc_port());

  inference::ModelConfigResponse config;
  {
    grpc::ClientContext context;
    inference::ModelConfigRequest request;
    request.set_name("dropped");
    ASSERT_TRUE(stub->ModelConfig(&context, request, &config).ok());
  }
  EXPECT_EQ(config.config().platform(), "onnx");
  EXPECT_EQ(config.config().max_batch_size(), kAutoCompleteMaxBatchSize);
  EXPECT_TRUE(config.config().has_dynamic_batching());
  ASSERT_EQ(config.config().input_size(), 1);
  EXPECT_EQ(config.config().input(0).name(), "input");
  EXPECT_EQ(config.config().input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(std::vector<int64_t>(config.config().input(0).dims().begin(),
                                 config.config().input(0).dims().end()),
            (std::vector<int64_t>{1, 28, 28}));
  ASSERT_EQ(config.config().output_size(), 1);
  EXPECT_EQ(config.config().output(0).name(), "prob");

  inference::ModelMetadataResponse metadata;
  {
    grpc::ClientContext context;
    inference::ModelMetadataRequest request;
    request.set_name("dropped");
    ASSERT_TRUE(stub->ModelMetadata(&context, request, &metadata).ok());
  }
  ASSERT_EQ(metadata.inputs_size(), 1);
  EXPECT_EQ(
      std::vector<int64_t>(metadata.inputs(0).shape().begin(), metadata.inputs(0).shape().end()),
      (std::vector<int64_t>{-1, 1, 28, 28}));

  // Odd batch, fresh random images, against the file's own float64 pass.
  const std::vector<float> images = testing::RandomVector(3 * 28 * 28, 0.0f, 1.0f);
  inference::ModelInferResponse response;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        stub->ModelInfer(&context, FloatRequest("dropped", {3, 1, 28, 28}, images), &response)
            .ok());
  }
  absl::StatusOr<Graph> graph =
      LoadOnnxFile((fs::path(repository) / "dropped" / "1" / "model.onnx").string());
  ASSERT_TRUE(graph.ok()) << graph.status();
  const std::vector<float> output = OutputFloats(response);
  ASSERT_EQ(output.size(), 30u);
  EXPECT_LE(
      testing::MaxRelativeError(output.data(), testing::ReferenceForward(*graph, images.data(), 3)),
      2e-5);

  // Past the completed max_batch_size: refused, naming it.
  grpc::ClientContext context;
  const std::vector<float> five = testing::RandomVector(5 * 28 * 28, 0.0f, 1.0f);
  const grpc::Status status =
      stub->ModelInfer(&context, FloatRequest("dropped", {5, 1, 28, 28}, five), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "a batch of 1 to 4"))
      << status.error_message();
}

TEST(AutoCompleteTest, DisabledTheSameFolderIsNoModel) {
  const std::string repository = MakeRepository();
  ServerOptions options = LoopbackOptions(repository);
  options.auto_complete_config = false;
  std::unique_ptr<Server> server = StartServer(options);
  ASSERT_NE(server, nullptr);
  auto stub = Connect(server->grpc_port());
  grpc::ClientContext index_context;
  inference::RepositoryIndexResponse index;
  ASSERT_TRUE(stub->RepositoryIndex(&index_context, {}, &index).ok());
  EXPECT_EQ(IndexEntry(index, "dropped"), nullptr);
  EXPECT_NE(IndexEntry(index, "lenet"), nullptr);

  grpc::ClientContext context;
  inference::ModelInferResponse response;
  const grpc::Status status = stub->ModelInfer(
      &context, FloatRequest("dropped", {1, 1, 28, 28}, testing::RandomVector(28 * 28)), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace convd::e2e
