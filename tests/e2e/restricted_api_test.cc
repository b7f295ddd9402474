// Restricted APIs end to end (Triton's --grpc-restricted-protocol and
// --http-restricted-api): a real server on loopback whose model-repository,
// trace and inference groups need headers. Every restricted endpoint refuses
// a request without its header (PERMISSION_DENIED / 403, naming the header,
// never the value), answers with it, and the open groups need nothing.
#include <string>

#include "absl/strings/str_cat.h"
#include "client/http_connection.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

using client::HttpCall;
using client::HttpResult;

constexpr char kAdminSecret[] = "adm1n-s3cret";
constexpr char kInferSecret[] = "1nfer";

class RestrictedApiTest : public SharedServerTest<RestrictedApiTest> {
 public:
  static void AddModels(const std::string& repository) {
    AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  }
  static void Configure(ServerOptions& options) {
    options.model_control = ModelControl::kExplicit;
    const std::vector<std::string> specs = {
        absl::StrCat("model-repository,trace:admin-key=", kAdminSecret),
        absl::StrCat("inference:infer-key=", kInferSecret)};
    options.grpc_restrictions = *ApiRestrictions::Parse(ApiRestrictions::Protocol::kGrpc, specs);
    options.http_restrictions = *ApiRestrictions::Parse(ApiRestrictions::Protocol::kHttp, specs);
  }

 protected:
  int http_port() const { return server_->http_port(); }
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& key = "",
                                                      const std::string& value = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!key.empty()) context->AddMetadata(key, value);
    return context;
  }
};

inference::ModelInferRequest LenetImages() {
  return FloatRequest("lenet", {2, 1, 28, 28}, testing::RandomVector(2 * 784, 0.0f, 1.0f));
}

TEST_F(RestrictedApiTest, GrpcRestrictedMethodsNeedTheirHeader) {
  inference::RepositoryIndexResponse index;
  grpc::Status refused =
      stub_->RepositoryIndex(Context().get(), inference::RepositoryIndexRequest(), &index);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("'model-repository'"), std::string::npos)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("'triton-grpc-protocol-admin-key'"), std::string::npos)
      << refused.error_message();
  EXPECT_EQ(refused.error_message().find(kAdminSecret), std::string::npos);
  // The key without Triton's gRPC prefix, or with another value, is not it.
  EXPECT_EQ(
      stub_->RepositoryIndex(Context("admin-key", kAdminSecret).get(), {}, &index).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(
      stub_->RepositoryIndex(Context("triton-grpc-protocol-admin-key", "guess").get(), {}, &index)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status allowed = stub_->RepositoryIndex(
      Context("triton-grpc-protocol-admin-key", kAdminSecret).get(), {}, &index);
  ASSERT_TRUE(allowed.ok()) << allowed.error_message();
  EXPECT_NE(IndexEntry(index, "lenet"), nullptr);

  // A refused load changes nothing; the trace group has the same key.
  inference::RepositoryModelUnloadRequest unload;
  unload.set_model_name("lenet");
  inference::RepositoryModelUnloadResponse unloaded;
  EXPECT_EQ(stub_->RepositoryModelUnload(Context().get(), unload, &unloaded).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  inference::TraceSettingResponse trace;
  EXPECT_EQ(stub_->TraceSetting(Context().get(), {}, &trace).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(
      stub_->TraceSetting(Context("triton-grpc-protocol-admin-key", kAdminSecret).get(), {}, &trace)
          .ok());

  // Inference has its own key: the admin's does not open it.
  const inference::ModelInferRequest request = LenetImages();
  inference::ModelInferResponse response;
  EXPECT_EQ(stub_
                ->ModelInfer(Context("triton-grpc-protocol-admin-key", kAdminSecret).get(), request,
                             &response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status inferred = stub_->ModelInfer(
      Context("triton-grpc-protocol-infer-key", kInferSecret).get(), request, &response);
  ASSERT_TRUE(inferred.ok()) << inferred.error_message();
  EXPECT_EQ(OutputFloats(response).size(), 20u);

  // A stream without the key ends before any request is read.
  auto stream_context = Context();
  auto stream = stub_->ModelStreamInfer(stream_context.get());
  stream->Write(request);
  stream->WritesDone();
  inference::ModelStreamInferResponse streamed;
  EXPECT_FALSE(stream->Read(&streamed));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  auto keyed_context = Context("triton-grpc-protocol-infer-key", kInferSecret);
  auto keyed = stub_->ModelStreamInfer(keyed_context.get());
  ASSERT_TRUE(keyed->Write(request));
  keyed->WritesDone();
  ASSERT_TRUE(keyed->Read(&streamed));
  EXPECT_EQ(streamed.error_message(), "");
  EXPECT_TRUE(keyed->Finish().ok());

  // The open groups need nothing.
  inference::ServerLiveResponse live;
  EXPECT_TRUE(stub_->ServerLive(Context().get(), {}, &live).ok());
  inference::ModelConfigRequest config_request;
  config_request.set_name("lenet");
  inference::ModelConfigResponse config;
  EXPECT_TRUE(stub_->ModelConfig(Context().get(), config_request, &config).ok());
  inference::ModelStatisticsResponse stats;
  EXPECT_TRUE(stub_->ModelStatistics(Context().get(), {}, &stats).ok());
}

TEST_F(RestrictedApiTest, HttpRestrictedEndpointsAnswer403WithoutTheirHeader) {
  const HttpResult refused = HttpCall(http_port(), "POST", "/v2/repository/index");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("'admin-key'"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.body.find(kAdminSecret), std::string::npos);
  // Header names are matched in any case; values exactly.
  EXPECT_EQ(HttpCall(http_port(), "POST", "/v2/repository/index", "", {{"Admin-Key", kAdminSecret}})
                .status,
            200);
  EXPECT_EQ(
      HttpCall(http_port(), "POST", "/v2/repository/index", "", {{"admin-key", "ADM1N-S3CRET"}})
          .status,
      403);
  EXPECT_EQ(HttpCall(http_port(), "POST", "/v2/repository/models/lenet/unload").status, 403);
  EXPECT_EQ(HttpCall(http_port(), "GET", "/v2/trace/setting").status, 403);
  EXPECT_EQ(HttpCall(http_port(), "GET", "/v2/models/lenet/trace/setting").status, 403);
  EXPECT_EQ(HttpCall(http_port(), "GET", "/v2/models/lenet/trace/setting", "",
                     {{"admin-key", kAdminSecret}})
                .status,
            200);

  std::string images =
      R"({"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","data":[)";
  const std::vector<float> pixels = testing::RandomVector(784, 0.0f, 1.0f);
  for (size_t i = 0; i < pixels.size(); ++i) absl::StrAppend(&images, i ? "," : "", pixels[i]);
  images += "]}]}";
  EXPECT_EQ(HttpCall(http_port(), "POST", "/v2/models/lenet/infer", images).status, 403);
  EXPECT_EQ(HttpCall(http_port(), "POST", "/v2/models/lenet/versions/1/infer", images,
                     {{"admin-key", kAdminSecret}})
                .status,
            403);
  const HttpResult inferred = HttpCall(http_port(), "POST", "/v2/models/lenet/infer", images,
                                       {{"infer-key", kInferSecret}});
  EXPECT_EQ(inferred.status, 200) << inferred.body;

  // Open groups, and paths that are no endpoint (404 whatever the headers).
  EXPECT_EQ(HttpCall(http_port(), "GET", "/v2/health/ready").status, 200);
  EXPECT_EQ(HttpCall(http_port(), "GET", "/v2/models/lenet").status, 200);
  EXPECT_EQ(HttpCall(http_port(), "GET", "/v2/models/lenet/config").status, 200);
  EXPECT_EQ(HttpCall(http_port(), "GET", "/v2/models/stats").status, 200);
  EXPECT_EQ(HttpCall(http_port(), "GET", "/v2/logging").status, 200);
  EXPECT_EQ(HttpCall(http_port(), "GET", "/v2/nothing").status, 404);
}

}  // namespace
}  // namespace convd::e2e
