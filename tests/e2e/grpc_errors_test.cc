// Bad input over real gRPC: every case gets the right status and a message
// that names the problem, and the server keeps serving.
#include <functional>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

constexpr char kLenetConfig[] = R"pb(
  max_batch_size: 4
  input { name: "input" dims: [1, 28, 28] }
  output { name: "prob" dims: [10] }
)pb";

class GrpcErrorsTest : public SharedServerTest<GrpcErrorsTest> {
 public:
  static void AddModels(const std::string& repository) {
    AddModel(repository, "lenet", "lenet5", kLenetConfig);
    // Declares 3 channels for a 1-channel network: fails to load.
    AddModel(repository, "broken", "lenet5", R"pb(
      max_batch_size: 4
      input { name: "input" dims: [3, 28, 28] }
      output { name: "prob" dims: [10] }
    )pb");
    // Would hold a receiving thread for up to 0.2 s a request: refused.
    AddModel(repository, "inline_too_long", "lenet5",
             absl::StrCat(kLenetConfig, "inline_run_limit_microseconds: 200000"));
  }
  static constexpr int64_t kMaxMessageBytes = 1 << 20;
  static void Configure(ServerOptions& options) {
    options.grpc_max_message_bytes = kMaxMessageBytes;
  }

 protected:
  inference::ModelInferRequest GoodRequest() {
    return FloatRequest("lenet", {2, 1, 28, 28}, testing::RandomVector(2 * 28 * 28));
  }
  grpc::Status Infer(const inference::ModelInferRequest& request) {
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    return stub_->ModelInfer(&context, request, &response);
  }
  void ExpectStillServing() {
    EXPECT_TRUE(Infer(GoodRequest()).ok()) << "the server stopped serving good requests";
  }
};

TEST_F(GrpcErrorsTest, BadRequestsGetTheRightStatusAndANamedProblem) {
  struct Case {
    std::string what;
    std::function<void(inference::ModelInferRequest&)> mutate;
    grpc::StatusCode code;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"unknown model", [](auto& r) { r.set_model_name("resnet9000"); },
       grpc::StatusCode::NOT_FOUND, "unknown model 'resnet9000'"},
      {"unknown version", [](auto& r) { r.set_model_version("7"); }, grpc::StatusCode::NOT_FOUND,
       "no version 7"},
      {"version with a path", [](auto& r) { r.set_model_version("../1"); },
       grpc::StatusCode::INVALID_ARGUMENT, "invalid model version '../1'"},
      {"model name with a path", [](auto& r) { r.set_model_name("../lenet"); },
       grpc::StatusCode::INVALID_ARGUMENT, "invalid name '../lenet'"},
      {"model that failed to load", [](auto& r) { r.set_model_name("broken"); },
       grpc::StatusCode::UNAVAILABLE, "do not match the network input"},
      {"wrong input name", [](auto& r) { r.mutable_inputs(0)->set_name("pixels"); },
       grpc::StatusCode::INVALID_ARGUMENT, "unknown input 'pixels'; expected 'input'"},
      {"no input",
       [](auto& r) {
         r.clear_inputs();
         r.clear_raw_input_contents();
       },
       grpc::StatusCode::INVALID_ARGUMENT, "expects 1 input"},
      {"wrong datatype", [](auto& r) { r.mutable_inputs(0)->set_datatype("INT64"); },
       grpc::StatusCode::INVALID_ARGUMENT, "datatype 'INT64'; expected FP32, UINT8 or BYTES"},
      {"wrong shape", [](auto& r) { r.mutable_inputs(0)->set_shape(1, 3); },
       grpc::StatusCode::INVALID_ARGUMENT, "has shape [2, 3, 28, 28]; expected [-1, 1, 28, 28]"},
      {"batch over max_batch_size", [](auto& r) { r.mutable_inputs(0)->set_shape(0, 5); },
       grpc::StatusCode::INVALID_ARGUMENT, "with a batch of 1 to 4"},
      {"byte count", [](auto& r) { r.mutable_raw_input_contents(0)->resize(100); },
       grpc::StatusCode::INVALID_ARGUMENT,
       "holds 100 bytes; shape [2, 1, 28, 28] of FP32 needs 6272"},
      {"raw and typed contents",
       [](auto& r) { r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1.0f); },
       grpc::StatusCode::INVALID_ARGUMENT, "has raw_input_contents and contents; send one"},
      {"typed contents count",
       [](auto& r) {
         r.clear_raw_input_contents();
         r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1.0f);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "has 1 fp32_contents values"},
      {"unknown output", [](auto& r) { r.add_outputs()->set_name("logits"); },
       grpc::StatusCode::INVALID_ARGUMENT, "unknown output 'logits'"},
      {"classification out of range",
       [](auto& r) {
         auto* output = r.add_outputs();
         output->set_name("prob");
         (*output->mutable_parameters())["classification"].set_int64_param(11);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "'classification' must be an integer in [1, 10]"},
      {"layer_stats not a bool",
       [](auto& r) { (*r.mutable_parameters())["layer_stats"].set_string_param("yes"); },
       grpc::StatusCode::INVALID_ARGUMENT, "'layer_stats' must be a bool"},
  };
  for (const Case& c : cases) {
    inference::ModelInferRequest request = GoodRequest();
    c.mutate(request);
    const grpc::Status status = Infer(request);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message_part), std::string::npos)
        << c.what << ": got '" << status.error_message() << "'";
  }
  ExpectStillServing();
}

TEST_F(GrpcErrorsTest, BrokenModelIsReportedAndDoesNotStopTheOthers) {
  grpc::ClientContext index_context, ready_context, model_ready_context;
  inference::RepositoryIndexResponse index;
  ASSERT_TRUE(stub_->RepositoryIndex(&index_context, {}, &index).ok());
  const std::map<std::string, std::string> expected_reasons = {
      {"broken", "input dims [3, 28, 28] do not match"},
      {"inline_too_long", "inline_run_limit_microseconds must be at most 100000"}};
  int found = 0;
  for (const auto& model : index.models()) {
    auto expected = expected_reasons.find(model.name());
    if (expected == expected_reasons.end()) continue;
    ++found;
    EXPECT_EQ(model.state(), "UNAVAILABLE") << model.name();
    EXPECT_NE(model.reason().find(expected->second), std::string::npos) << model.reason();
  }
  EXPECT_EQ(found, 2);
  inference::ServerReadyResponse ready;
  ASSERT_TRUE(stub_->ServerReady(&ready_context, {}, &ready).ok());
  EXPECT_FALSE(ready.ready()) << "a model failed to load, so the server is not fully ready";
  inference::ModelReadyRequest request;
  request.set_name("broken");
  inference::ModelReadyResponse model_ready;
  ASSERT_TRUE(stub_->ModelReady(&model_ready_context, request, &model_ready).ok());
  EXPECT_FALSE(model_ready.ready());
  ExpectStillServing();
}

TEST_F(GrpcErrorsTest, OversizedMessageIsRefused) {
  // 1 MiB limit; 400 rows would be 1.25 MB (and over max_batch_size).
  inference::ModelInferRequest request =
      FloatRequest("lenet", {400, 1, 28, 28}, std::vector<float>(400 * 28 * 28, 0.5f));
  const grpc::Status status = Infer(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  ExpectStillServing();
}

TEST_F(GrpcErrorsTest, MalformedProtobufIsRefused) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  // A field tag with wire type 7, which protobuf never produces.
  const std::string garbage = "\x0f\xff\xff\xff\xff\xff";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  std::mutex mutex;
  std::condition_variable done_signal;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&context, "/inference.GRPCInferenceService/ModelInfer", grpc::StubOptions(),
                    &request, &response, [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mutex);
                      status = s;
                      done = true;
                      done_signal.notify_all();
                    });
  std::unique_lock<std::mutex> lock(mutex);
  done_signal.wait(lock, [&] { return done; });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("not a valid ModelInferRequest"), std::string::npos)
      << status.error_message();
  ExpectStillServing();
}

TEST_F(GrpcErrorsTest, ModelControlIsOffByDefault) {
  grpc::ClientContext load_context, unload_context;
  inference::RepositoryModelLoadRequest load;
  load.set_model_name("lenet");
  inference::RepositoryModelLoadResponse load_response;
  const grpc::Status loaded = stub_->RepositoryModelLoad(&load_context, load, &load_response);
  EXPECT_EQ(loaded.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(loaded.error_message().find("--model-control=explicit"), std::string::npos);
  inference::RepositoryModelUnloadRequest unload;
  unload.set_model_name("lenet");
  inference::RepositoryModelUnloadResponse unload_response;
  EXPECT_EQ(stub_->RepositoryModelUnload(&unload_context, unload, &unload_response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ExpectStillServing();
}

TEST_F(GrpcErrorsTest, MetadataForUnknownModelIsNotFound) {
  grpc::ClientContext context;
  inference::ModelMetadataRequest request;
  request.set_name("nope");
  inference::ModelMetadataResponse response;
  const grpc::Status status = stub_->ModelMetadata(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "unknown model 'nope'");
}

}  // namespace
}  // namespace convd::e2e
