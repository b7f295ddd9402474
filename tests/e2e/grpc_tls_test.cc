// gRPC over TLS end to end (Triton's --grpc-use-ssl and
// --grpc-use-ssl-mutual): a throwaway PKI made by tools/make_test_certs.sh,
// a real server on loopback, real TLS channels. With TLS a client that
// trusts the CA infers exactly as in clear text; with mutual TLS only
// clients holding a certificate from --grpc-root-cert's CA get through; a
// wrong file stops the server at start, naming it.
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/file_util.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

class GrpcTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new std::string(MakeTestCertificates());
    ASSERT_FALSE(certs_->empty());
    repository_ = new std::string(MakeTempDir("repository"));
    AddModel(*repository_, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  }
  static void TearDownTestSuite() {
    delete certs_;
    delete repository_;
  }

  static std::string Pem(const std::string& name) {
    return ReadFile(absl::StrCat(*certs_, "/", name)).value_or("");
  }
  static std::string Path(const std::string& name) { return absl::StrCat(*certs_, "/", name); }

  ServerOptions TlsOptions(bool mutual) const {
    ServerOptions options = LoopbackOptions(*repository_);
    options.grpc_tls = {.use_ssl = true,
                        .mutual = mutual,
                        .server_cert = Path("server.pem"),
                        .server_key = Path("server.key"),
                        .root_cert = mutual ? Path("ca.pem") : ""};
    return options;
  }

  // A stub over TLS to 127.0.0.1:port (the certificate names the address;
  // no name lookup) trusting `ca`, presenting `client`
  // ("": no certificate).
  static std::unique_ptr<inference::GRPCInferenceService::Stub> TlsStub(
      int port, const std::string& ca, const std::string& client = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Pem(ca + ".pem");
    if (!client.empty()) {
      ssl.pem_private_key = Pem(client + ".key");
      ssl.pem_cert_chain = Pem(client + ".pem");
    }
    return inference::GRPCInferenceService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::SslCredentials(ssl)));
  }

  // The call's status, within 10 s.
  static grpc::Status Infer(inference::GRPCInferenceService::Stub& stub,
                            const inference::ModelInferRequest& request,
                            inference::ModelInferResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub.ModelInfer(&context, request, response);
  }

  static inline std::string* certs_ = nullptr;
  static inline std::string* repository_ = nullptr;
};

TEST_F(GrpcTlsTest, ATlsClientInfersAsAClearTextOneDoesAndAClearTextClientIsRefused) {
  std::unique_ptr<Server> tls_server = StartServer(TlsOptions(/*mutual=*/false));
  ASSERT_NE(tls_server, nullptr);
  std::unique_ptr<Server> clear_server = StartServer(LoopbackOptions(*repository_));
  ASSERT_NE(clear_server, nullptr);
  const inference::ModelInferRequest request =
      FloatRequest("lenet", {3, 1, 28, 28}, testing::RandomVector(3 * 784, 0.0f, 1.0f));

  inference::ModelInferResponse over_tls, in_clear;
  auto tls = TlsStub(tls_server->grpc_port(), "ca");
  grpc::Status status = Infer(*tls, request, &over_tls);
  ASSERT_TRUE(status.ok()) << status.error_message();
  status = Infer(*Connect(clear_server->grpc_port()), request, &in_clear);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(OutputFloats(over_tls), OutputFloats(in_clear));
  EXPECT_EQ(OutputFloats(over_tls).size(), 30u);

  // A client that speaks clear text, or trusts another CA, gets nothing.
  inference::ModelInferResponse none;
  EXPECT_EQ(Infer(*Connect(tls_server->grpc_port()), request, &none).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Infer(*TlsStub(tls_server->grpc_port(), "other_ca"), request, &none).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, MutualTlsAdmitsOnlyClientsWithACertificateFromTheRootCa) {
  std::unique_ptr<Server> server = StartServer(TlsOptions(/*mutual=*/true));
  ASSERT_NE(server, nullptr);
  const inference::ModelInferRequest request =
      FloatRequest("lenet", {1, 1, 28, 28}, testing::RandomVector(784, 0.0f, 1.0f));
  inference::ModelInferResponse response;
  grpc::Status status = Infer(*TlsStub(server->grpc_port(), "ca", "client"), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(OutputFloats(response).size(), 10u);
  EXPECT_EQ(Infer(*TlsStub(server->grpc_port(), "ca"), request, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Infer(*TlsStub(server->grpc_port(), "ca", "stranger"), request, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, AWrongFileStopsTheServerAtStartNamingIt) {
  // use_ssl, mutual, then the files by name ("": not given).
  auto tls = [](bool use_ssl, bool mutual, const std::string& cert, const std::string& key,
                const std::string& root) {
    GrpcTlsOptions options;
    options.use_ssl = use_ssl;
    options.mutual = mutual;
    options.server_cert = cert.empty() ? "" : Path(cert);
    options.server_key = key.empty() ? "" : Path(key);
    options.root_cert = root.empty() ? "" : Path(root);
    return options;
  };
  struct Case {
    GrpcTlsOptions tls;
    std::string message;
  };
  const Case cases[] = {
      {tls(false, false, "server.pem", "", ""), "--grpc-server-cert is given but TLS is off"},
      {tls(true, false, "", "server.key", ""), "--grpc-server-cert is required"},
      {tls(true, false, "server.pem", "", ""), "--grpc-server-key is required"},
      {tls(true, false, "missing.pem", "server.key", ""), "missing.pem"},
      {tls(true, false, "server.key", "server.key", ""), "holds no PEM certificate"},
      {tls(true, false, "server.pem", "server.pem", ""), "holds no unencrypted PEM private key"},
      {tls(true, false, "server.pem", "client.key", ""), "is not the key of the certificate"},
      {tls(false, true, "server.pem", "server.key", ""), "--grpc-root-cert is required"},
      {tls(true, false, "server.pem", "server.key", "ca.pem"), "only --grpc-use-ssl-mutual"},
  };
  for (const Case& c : cases) {
    ServerOptions options = LoopbackOptions(*repository_);
    options.grpc_tls = c.tls;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_FALSE(server.ok()) << c.message;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(server.status().message().find(c.message), std::string::npos)
        << server.status().message();
  }
}

}  // namespace
}  // namespace convd::e2e
