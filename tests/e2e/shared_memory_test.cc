// The system shared-memory extension end to end: a real server on loopback
// started with --allow-client-shm, real POSIX shared-memory objects playing
// the client's side, registration over gRPC and HTTP, inputs read from and
// outputs written to the objects at odd offsets, and the same numbers as
// inline requests. Every misuse is answered by name and the server keeps
// serving; without the flag, every use is refused.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "client/http_connection.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "nlohmann/json.hpp"
#include "server/core/shared_memory_parameters.h"
#include "server/core/testing/shm_object.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

using client::HttpCall;
using client::HttpResult;
using nlohmann::json;
using testing::ShmObject;

constexpr int kInputBytesPerRow = 28 * 28 * sizeof(float);
constexpr int kOutputBytesPerRow = 10 * sizeof(float);

// Shared memory and inline answers may come from differently composed
// batches, so they agree to rounding, not bit for bit.
void ExpectSameProbabilities(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-5) << "at " << i;
  }
}

// Registers bytes [offset, offset + byte_size) of the object `key` as
// region `name`.
grpc::Status RegisterRegion(inference::GRPCInferenceService::Stub& stub, const std::string& name,
                            const std::string& key, uint64_t offset, uint64_t byte_size) {
  inference::SystemSharedMemoryRegisterRequest request;
  request.set_name(name);
  request.set_key(key);
  request.set_offset(offset);
  request.set_byte_size(byte_size);
  grpc::ClientContext context;
  inference::SystemSharedMemoryRegisterResponse response;
  return stub.SystemSharedMemoryRegister(&context, request, &response);
}

class SharedMemoryTest : public SharedServerTest<SharedMemoryTest> {
 public:
  static void AddModels(const std::string& repository) {
    AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  }
  static void Configure(ServerOptions& options) { options.allow_client_shm = true; }

 protected:
  void TearDown() override { ASSERT_TRUE(Unregister("").ok()); }

  grpc::Status Register(const std::string& name, const ShmObject& object, uint64_t offset,
                        uint64_t byte_size) {
    return RegisterRegion(*stub_, name, object.key(), offset, byte_size);
  }
  grpc::Status Unregister(const std::string& name) {
    inference::SystemSharedMemoryUnregisterRequest request;
    request.set_name(name);
    grpc::ClientContext context;
    inference::SystemSharedMemoryUnregisterResponse response;
    return stub_->SystemSharedMemoryUnregister(&context, request, &response);
  }
  grpc::Status Infer(const inference::ModelInferRequest& request,
                     inference::ModelInferResponse* response) {
    grpc::ClientContext context;
    return stub_->ModelInfer(&context, request, response);
  }
  // The inline answer, for comparison.
  std::vector<float> InlineOutput(const std::vector<float>& input, int rows) {
    inference::ModelInferResponse response;
    const grpc::Status status = Infer(FloatRequest("lenet", {rows, 1, 28, 28}, input), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return OutputFloats(response);
  }
  // A request whose input comes from region "in" at `offset` and whose
  // output goes to region "out" at `out_offset`.
  static inference::ModelInferRequest ShmRequest(int rows, int64_t offset, int64_t out_offset) {
    inference::ModelInferRequest request = FloatRequest("lenet", {rows, 1, 28, 28}, {});
    request.clear_raw_input_contents();
    SetSharedMemory(*request.mutable_inputs(0)->mutable_parameters(), "in",
                    rows * kInputBytesPerRow, offset);
    auto* output = request.add_outputs();
    output->set_name("prob");
    SetSharedMemory(*output->mutable_parameters(), "out", rows * kOutputBytesPerRow, out_offset);
    return request;
  }
};

TEST_F(SharedMemoryTest, InputFromAndOutputToSharedMemoryGiveTheInlineNumbers) {
  const int rows = 3;
  const std::vector<float> input = testing::RandomVector(rows * 28 * 28);
  // Regions start at odd offsets in their objects; tensors at odd offsets in
  // their regions.
  ShmObject input_object(rows * kInputBytesPerRow + 200), output_object(4096);
  input_object.WriteAt(37 + 11, FloatBytes(input));
  ASSERT_TRUE(Register("in", input_object, 37, rows * kInputBytesPerRow + 100).ok());
  ASSERT_TRUE(Register("out", output_object, 1001, 2000).ok());

  inference::ModelInferResponse response;
  const grpc::Status status = Infer(ShmRequest(rows, 11, 5), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  // The output went to shared memory; its raw entry is there but empty, as
  // Triton's C++ client expects one per output.
  ASSERT_EQ(response.raw_output_contents_size(), 1);
  EXPECT_TRUE(response.raw_output_contents(0).empty());
  ASSERT_EQ(response.outputs_size(), 1);
  const auto& output = response.outputs(0);
  EXPECT_EQ(output.datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(output.shape().begin(), output.shape().end()),
            (std::vector<int64_t>{rows, 10}));
  EXPECT_EQ(output.parameters().at("shared_memory_region").string_param(), "out");
  EXPECT_EQ(output.parameters().at("shared_memory_byte_size").int64_param(),
            rows * kOutputBytesPerRow);
  const std::vector<float> from_shm =
      FloatsFromBytes(output_object.ReadAt(1001 + 5, rows * kOutputBytesPerRow));
  ExpectSameProbabilities(from_shm, InlineOutput(input, rows));
  // Nothing outside the output's bytes changed.
  EXPECT_EQ(output_object.ReadAt(0, 1006), std::string(output_object.initial_bytes().data(), 1006));
  EXPECT_EQ(
      output_object.ReadAt(1006 + rows * kOutputBytesPerRow, 10),
      std::string(output_object.initial_bytes().data() + 1006 + rows * kOutputBytesPerRow, 10));

  // The same regions serve request after request, with new contents.
  const std::vector<float> second = testing::RandomVector(rows * 28 * 28);
  input_object.WriteAt(37 + 11, FloatBytes(second));
  ASSERT_TRUE(Infer(ShmRequest(rows, 11, 5), &response).ok());
  ExpectSameProbabilities(FloatsFromBytes(output_object.ReadAt(1006, rows * kOutputBytesPerRow)),
                          InlineOutput(second, rows));
}

TEST_F(SharedMemoryTest, ClassificationLabelsGoToSharedMemoryAsABytesTensor) {
  const std::vector<float> input = testing::RandomVector(2 * 28 * 28);
  ShmObject input_object(2 * kInputBytesPerRow), output_object(512);
  input_object.WriteAt(0, FloatBytes(input));
  ASSERT_TRUE(Register("in", input_object, 0, 2 * kInputBytesPerRow).ok());
  ASSERT_TRUE(Register("out", output_object, 0, 512).ok());

  inference::ModelInferRequest request = ShmRequest(2, 0, 0);
  (*request.mutable_outputs(0)->mutable_parameters())["classification"].set_int64_param(2);
  (*request.mutable_outputs(0)->mutable_parameters())["shared_memory_byte_size"].set_int64_param(
      512);
  inference::ModelInferResponse response;
  const grpc::Status status = Infer(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outputs(0).datatype(), "BYTES");
  const int64_t written =
      response.outputs(0).parameters().at("shared_memory_byte_size").int64_param();
  ASSERT_GT(written, 0);
  ASSERT_LE(written, 512);

  inference::ModelInferRequest inline_request = FloatRequest("lenet", {2, 1, 28, 28}, input);
  auto* inline_output = inline_request.add_outputs();
  inline_output->set_name("prob");
  (*inline_output->mutable_parameters())["classification"].set_int64_param(2);
  inference::ModelInferResponse inline_response;
  ASSERT_TRUE(Infer(inline_request, &inline_response).ok());
  EXPECT_EQ(BytesElements(output_object.ReadAt(0, written)),
            BytesElements(inline_response.raw_output_contents(0)));
  EXPECT_EQ(BytesElements(output_object.ReadAt(0, written)).size(), 4u);
}

TEST_F(SharedMemoryTest, StatusListsWhatIsRegisteredAndUnregisterRemovesIt) {
  ShmObject object(1000);
  ASSERT_TRUE(Register("a", object, 0, 500).ok());
  ASSERT_TRUE(Register("b", object, 500, 500).ok());
  inference::SystemSharedMemoryStatusResponse all;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->SystemSharedMemoryStatus(&context, {}, &all).ok());
  }
  ASSERT_EQ(all.regions().size(), 2u);
  inference::ServerMetadataResponse metadata;
  grpc::ClientContext metadata_context;
  ASSERT_TRUE(stub_->ServerMetadata(&metadata_context, {}, &metadata).ok());
  EXPECT_NE(
      std::find(metadata.extensions().begin(), metadata.extensions().end(), "system_shared_memory"),
      metadata.extensions().end());
  EXPECT_EQ(all.regions().at("b").key(), object.key());
  EXPECT_EQ(all.regions().at("b").offset(), 500u);
  EXPECT_EQ(all.regions().at("b").byte_size(), 500u);

  ASSERT_TRUE(Unregister("a").ok());
  inference::SystemSharedMemoryStatusRequest one;
  one.set_name("a");
  inference::SystemSharedMemoryStatusResponse response;
  grpc::ClientContext context;
  const grpc::Status gone = stub_->SystemSharedMemoryStatus(&context, one, &response);
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(gone.error_message().find("'a'"), std::string::npos) << gone.error_message();
}

TEST_F(SharedMemoryTest, MisuseIsAnsweredByNameAndTheServerKeepsServing) {
  ShmObject input_object(2 * kInputBytesPerRow), output_object(200);
  ASSERT_TRUE(Register("in", input_object, 0, 2 * kInputBytesPerRow).ok());
  ASSERT_TRUE(Register("out", output_object, 0, 200).ok());

  const grpc::Status twice = Register("in", input_object, 0, 16);
  EXPECT_EQ(twice.error_code(), grpc::StatusCode::ALREADY_EXISTS) << twice.error_message();
  ShmObject small(16);
  const grpc::Status too_big = Register("big", small, 8, 16);
  EXPECT_EQ(too_big.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(too_big.error_message().find("16 bytes at offset 8 do not fit"), std::string::npos)
      << too_big.error_message();

  struct Case {
    std::string what;
    std::function<void(inference::ModelInferRequest&)> mutate;
    grpc::StatusCode code;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"unregistered region",
       [](auto& r) {
         (*r.mutable_inputs(0)->mutable_parameters())["shared_memory_region"].set_string_param(
             "nowhere");
       },
       grpc::StatusCode::NOT_FOUND, "input 'input': no shared memory region named 'nowhere'"},
      {"input bytes for another shape",
       [](auto& r) {
         (*r.mutable_inputs(0)->mutable_parameters())["shared_memory_byte_size"].set_int64_param(
             kInputBytesPerRow);
       },
       grpc::StatusCode::INVALID_ARGUMENT,
       "holds 3136 bytes; shape [2, 1, 28, 28] of FP32 needs 6272"},
      {"range past the region",
       [](auto& r) {
         (*r.mutable_inputs(0)->mutable_parameters())["shared_memory_offset"].set_int64_param(1);
       },
       grpc::StatusCode::INVALID_ARGUMENT,
       "6272 bytes at offset 1 do not fit in shared memory region 'in'"},
      {"shared memory and raw bytes",
       [](auto& r) { r.add_raw_input_contents(std::string(2 * kInputBytesPerRow, '\0')); },
       grpc::StatusCode::INVALID_ARGUMENT, "has shared memory and raw_input_contents; send one"},
      {"output room too small",
       [](auto& r) {
         (*r.mutable_outputs(0)->mutable_parameters())["shared_memory_byte_size"].set_int64_param(
             79);
       },
       grpc::StatusCode::INVALID_ARGUMENT,
       "output 'prob': shared_memory_byte_size 79 cannot hold its 80 bytes"},
      {"byte size without region",
       [](auto& r) { r.mutable_outputs(0)->mutable_parameters()->erase("shared_memory_region"); },
       grpc::StatusCode::INVALID_ARGUMENT, "but no shared_memory_region"},
  };
  for (const Case& c : cases) {
    inference::ModelInferRequest request = ShmRequest(2, 0, 0);
    c.mutate(request);
    inference::ModelInferResponse response;
    const grpc::Status status = Infer(request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message_part), std::string::npos)
        << c.what << ": got '" << status.error_message() << "'";
  }

  // The client shrinks its object under a registered region: that request
  // fails, the process lives (a mapping would have died of SIGBUS).
  input_object.Truncate(kInputBytesPerRow);
  inference::ModelInferResponse response;
  const grpc::Status shrunk = Infer(ShmRequest(2, 0, 0), &response);
  EXPECT_EQ(shrunk.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(shrunk.error_message().find("has shrunk below the registered region"),
            std::string::npos)
      << shrunk.error_message();

  inference::CudaSharedMemoryRegisterRequest cuda;
  cuda.set_name("gpu");
  inference::CudaSharedMemoryRegisterResponse cuda_response;
  grpc::ClientContext context;
  const grpc::Status cuda_status = stub_->CudaSharedMemoryRegister(&context, cuda, &cuda_response);
  EXPECT_EQ(cuda_status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(cuda_status.error_message().find("use system shared memory"), std::string::npos);
  // With none registered, status and unregister answer as Triton's do:
  // perf_analyzer's clean-up unregisters both kinds and reports a failure.
  grpc::ClientContext status_context;
  inference::CudaSharedMemoryStatusResponse cuda_regions;
  cuda_regions.mutable_regions()->insert({"stale", {}});
  EXPECT_TRUE(stub_->CudaSharedMemoryStatus(&status_context, {}, &cuda_regions).ok());
  EXPECT_TRUE(cuda_regions.regions().empty());
  grpc::ClientContext named_context;
  inference::CudaSharedMemoryStatusRequest named;
  named.set_name("gpu");
  const grpc::Status named_status =
      stub_->CudaSharedMemoryStatus(&named_context, named, &cuda_regions);
  EXPECT_EQ(named_status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(named_status.error_message().find("region 'gpu'"), std::string::npos);
  grpc::ClientContext unregister_context;
  inference::CudaSharedMemoryUnregisterResponse unregistered;
  EXPECT_TRUE(stub_->CudaSharedMemoryUnregister(&unregister_context, {}, &unregistered).ok());

  const std::vector<float> input = testing::RandomVector(2 * 28 * 28);
  EXPECT_EQ(InlineOutput(input, 2).size(), 20u) << "the server stopped serving";
}

TEST_F(SharedMemoryTest, AHugeClaimedSizeIsRefusedBeforeAnythingIsRead) {
  // A sparse 8 GiB object costs the client nothing; reading what it claims
  // would cost the server 8 GiB.
  const std::string key = absl::StrCat("/convd_sparse_", getpid());
  const int fd = shm_open(key.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  constexpr int64_t kHuge = int64_t{8} << 30;
  ASSERT_EQ(ftruncate(fd, kHuge), 0);
  ASSERT_TRUE(RegisterRegion(*stub_, "huge", key, 0, kHuge).ok());

  inference::ModelInferRequest tensor = ShmRequest(1, 0, 0);
  SetSharedMemory(*tensor.mutable_inputs(0)->mutable_parameters(), "huge", kHuge);
  tensor.clear_outputs();
  inference::ModelInferResponse response;
  grpc::Status status = Infer(tensor, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("holds 8589934592 bytes; shape [1, 1, 28, 28] of FP32 "
                                        "needs 3136"),
            std::string::npos)
      << status.error_message();

  inference::ModelInferRequest images = tensor;
  images.mutable_inputs(0)->set_datatype("BYTES");
  images.mutable_inputs(0)->clear_shape();
  images.mutable_inputs(0)->add_shape(1);
  status = Infer(images, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("is over the 268435456 bytes an input of encoded images "
                                        "may take"),
            std::string::npos)
      << status.error_message();
  close(fd);
  shm_unlink(key.c_str());
  EXPECT_EQ(InlineOutput(testing::RandomVector(28 * 28), 1).size(), 10u);
}

TEST_F(SharedMemoryTest, TheRestApiRegistersInfersAndUnregisters) {
  const int port = server_->http_port();
  const int rows = 2;
  const std::vector<float> input = testing::RandomVector(rows * 28 * 28);
  ShmObject input_object(rows * kInputBytesPerRow + 3), output_object(100);
  input_object.WriteAt(3, FloatBytes(input));
  auto register_body = [](const ShmObject& object, int offset, int size) {
    return json{{"key", object.key()}, {"offset", offset}, {"byte_size", size}}.dump();
  };
  EXPECT_EQ(HttpCall(port, "POST", "/v2/systemsharedmemory/region/in/register",
                     register_body(input_object, 3, rows * kInputBytesPerRow))
                .status,
            200);
  EXPECT_EQ(HttpCall(port, "POST", "/v2/systemsharedmemory/region/out/register",
                     register_body(output_object, 0, 100))
                .status,
            200);
  HttpResult status = HttpCall(port, "GET", "/v2/systemsharedmemory/status");
  ASSERT_EQ(status.status, 200) << status.body;
  const json regions = json::parse(status.body);
  ASSERT_EQ(regions.size(), 2u) << status.body;
  HttpResult one = HttpCall(port, "GET", "/v2/systemsharedmemory/region/in/status");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(
      json::parse(one.body),
      json::parse(absl::StrCat(R"([{"name":"in","key":")", input_object.key(),
                               R"(","offset":3,"byte_size":)", rows * kInputBytesPerRow, "}]")));

  const std::string infer = absl::StrCat(
      R"({"inputs":[{"name":"input","shape":[2,1,28,28],"datatype":"FP32","parameters":)",
      R"({"shared_memory_region":"in","shared_memory_byte_size":)", rows * kInputBytesPerRow,
      R"(}}],"outputs":[{"name":"prob","parameters":{"shared_memory_region":"out",)",
      R"("shared_memory_byte_size":80,"shared_memory_offset":20}}]})");
  HttpResult result = HttpCall(port, "POST", "/v2/models/lenet/infer", infer);
  ASSERT_EQ(result.status, 200) << result.body;
  const json answer = json::parse(result.body);
  const json& output = answer["outputs"][0];
  // Name, datatype and shape only: Triton's C++ client reads any output
  // "parameters" as binary data.
  EXPECT_FALSE(output.contains("data")) << result.body;
  EXPECT_FALSE(output.contains("parameters")) << result.body;
  EXPECT_EQ(output["shape"], json::array({2, 10}));
  ExpectSameProbabilities(FloatsFromBytes(output_object.ReadAt(20, rows * kOutputBytesPerRow)),
                          InlineOutput(input, rows));

  const std::string with_data = absl::StrCat(
      R"({"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","data":[0],)",
      R"("parameters":{"shared_memory_region":"in","shared_memory_byte_size":3136}}]})");
  HttpResult both = HttpCall(port, "POST", "/v2/models/lenet/infer", with_data);
  EXPECT_EQ(both.status, 400);
  EXPECT_NE(both.body.find("has shared_memory_region and 'data'; send one"), std::string::npos)
      << both.body;
  HttpResult bad_body =
      HttpCall(port, "POST", "/v2/systemsharedmemory/region/x/register", R"({"key":7})");
  EXPECT_EQ(bad_body.status, 400);
  EXPECT_NE(bad_body.body.find("string 'key'"), std::string::npos) << bad_body.body;
  EXPECT_EQ(HttpCall(port, "GET", "/v2/systemsharedmemory/region/x/register").status, 405);
  EXPECT_EQ(HttpCall(port, "GET", "/v2/cudasharedmemory/status").body, "[]");
  EXPECT_EQ(HttpCall(port, "GET", "/v2/cudasharedmemory/region/g/status").status, 404);
  EXPECT_EQ(HttpCall(port, "POST", "/v2/cudasharedmemory/unregister").status, 200);
  EXPECT_EQ(HttpCall(port, "POST", "/v2/cudasharedmemory/region/g/unregister").status, 200);
  EXPECT_EQ(HttpCall(port, "POST", "/v2/cudasharedmemory/region/g/register", "{}").status, 501);

  EXPECT_EQ(HttpCall(port, "POST", "/v2/systemsharedmemory/region/in/unregister").status, 200);
  EXPECT_EQ(HttpCall(port, "GET", "/v2/systemsharedmemory/region/in/status").status, 404);
  EXPECT_EQ(HttpCall(port, "POST", "/v2/systemsharedmemory/unregister").status, 200);
  EXPECT_EQ(HttpCall(port, "GET", "/v2/systemsharedmemory/status").body, "[]");
}

TEST(SharedMemoryDisabledTest, WithoutTheFlagEveryUseIsRefusedAndSaysHowToEnable) {
  const std::string repository = MakeTempDir("shm_off");
  AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  std::unique_ptr<Server> server = StartServer(repository);
  ASSERT_NE(server, nullptr);
  auto stub = Connect(server->grpc_port());

  ShmObject object(kInputBytesPerRow);
  const grpc::Status refused = RegisterRegion(*stub, "in", object.key(), 0, kInputBytesPerRow);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("--allow-client-shm"), std::string::npos);

  inference::ModelInferRequest infer = FloatRequest("lenet", {1, 1, 28, 28}, {});
  infer.clear_raw_input_contents();
  SetSharedMemory(*infer.mutable_inputs(0)->mutable_parameters(), "in", kInputBytesPerRow);
  grpc::ClientContext infer_context;
  inference::ModelInferResponse infer_response;
  const grpc::Status infer_refused = stub->ModelInfer(&infer_context, infer, &infer_response);
  EXPECT_EQ(infer_refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << infer_refused.error_message();

  HttpResult http = HttpCall(server->http_port(), "GET", "/v2/systemsharedmemory/status");
  EXPECT_EQ(http.status, 400);
  EXPECT_NE(http.body.find("--allow-client-shm"), std::string::npos) << http.body;
  HttpResult metadata = HttpCall(server->http_port(), "GET", "/v2");
  EXPECT_EQ(metadata.body.find("system_shared_memory"), std::string::npos) << metadata.body;
}

}  // namespace
}  // namespace convd::e2e
