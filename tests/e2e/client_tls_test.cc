// convctl and convload as a user runs them against a locked-down convd:
// gRPC over mutual TLS (a throwaway PKI from tools/make_test_certs.sh) and
// the model-repository API restricted on both protocols. The clients'
// --ssl, --root-cert, --client-cert, --client-key and --header reach it;
// without them they fail naming why, and bad flags exit 2.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/file_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

using nlohmann::json;

constexpr char kAdminKey[] = "0per4tor";

class ClientTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new std::string(MakeTestCertificates());
    ASSERT_FALSE(certs_->empty());
    repository_ = new std::string(MakeTempDir("repository"));
    AddModel(*repository_, "lenet5", "lenet5", kLenetConfig, kFashionLabels);
    ServerOptions options = LoopbackOptions(*repository_);
    options.model_control = ModelControl::kExplicit;
    options.grpc_tls = {.mutual = true,
                        .server_cert = Cert("server.pem"),
                        .server_key = Cert("server.key"),
                        .root_cert = Cert("ca.pem")};
    const std::string spec = absl::StrCat("model-repository:admin-key=", kAdminKey);
    options.grpc_restrictions = *ApiRestrictions::Parse(ApiRestrictions::Protocol::kGrpc, {spec});
    options.http_restrictions = *ApiRestrictions::Parse(ApiRestrictions::Protocol::kHttp, {spec});
    server_ = StartServer(options).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete repository_;
    delete certs_;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static std::string Cert(const std::string& name) { return absl::StrCat(*certs_, "/", name); }
  // The certificate names 127.0.0.1 too: no name lookup (under ASan,
  // Debian's c-ares leaks a few bytes resolving "localhost").
  static std::string TlsUrl() { return absl::StrCat("--url=127.0.0.1:", server_->grpc_port()); }
  static std::string HttpUrl() {
    return absl::StrCat("--url=http://127.0.0.1:", server_->http_port());
  }
  // The flags of a client holding the CA's certificate.
  static std::vector<std::string> Trusted() {
    return {"--ssl", "--root-cert=" + Cert("ca.pem"), "--client-cert=" + Cert("client.pem"),
            "--client-key=" + Cert("client.key")};
  }
  static ToolResult Run(const std::string& tool, std::vector<std::string> args) {
    args.insert(args.begin(), tool);
    return RunTool(args);
  }
  static ToolResult Convctl(std::vector<std::string> flags, const std::vector<std::string>& args) {
    flags.insert(flags.end(), args.begin(), args.end());
    return Run("client/convctl", flags);
  }

  static inline std::string* certs_ = nullptr;
  static inline std::string* repository_ = nullptr;
  static inline Server* server_ = nullptr;
};

std::vector<std::string> Plus(std::vector<std::string> flags,
                              const std::vector<std::string>& more) {
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

TEST_F(ClientTlsTest, ConvctlReachesTheServerOnlyWithItsCertificateAndKeys) {
  // Health over TLS: live and ready; the models are not listed without the
  // repository key, and convctl says so rather than fail.
  ToolResult health = Convctl(Plus({TlsUrl()}, Trusted()), {"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_NE(health.out.find("live, ready"), std::string::npos) << health.out;
  EXPECT_NE(health.out.find("models: not listed: the 'model-repository' API is restricted"),
            std::string::npos)
      << health.out;
  ToolResult keyed =
      Convctl(Plus({TlsUrl(), absl::StrCat("--header=triton-grpc-protocol-admin-key=", kAdminKey)},
                   Trusted()),
              {"health", "--json"});
  ASSERT_EQ(keyed.exit_code, 0) << keyed.err;
  EXPECT_EQ(json::parse(keyed.out)["models"][0]["name"], "lenet5") << keyed.out;

  // Without TLS, or without a client certificate: no connection.
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{TlsUrl()},
        std::vector<std::string>{TlsUrl(), "--ssl", "--root-cert=" + Cert("ca.pem")},
        std::vector<std::string>{TlsUrl(), "--ssl", "--root-cert=" + Cert("ca.pem"),
                                 "--client-cert=" + Cert("stranger.pem"),
                                 "--client-key=" + Cert("stranger.key")}}) {
    ToolResult refused = Convctl(flags, {"health"});
    EXPECT_EQ(refused.exit_code, 1) << flags.back();
    EXPECT_NE(refused.err.find("UNAVAILABLE"), std::string::npos) << refused.err;
  }

  // Unloading needs the key, over gRPC (with Triton's prefix) and HTTP.
  ToolResult denied = Convctl(Plus({TlsUrl()}, Trusted()), {"unload", "lenet5"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.err.find("PERMISSION_DENIED"), std::string::npos) << denied.err;
  ToolResult unloaded =
      Convctl(Plus({TlsUrl(), absl::StrCat("--header=triton-grpc-protocol-admin-key=", kAdminKey)},
                   Trusted()),
              {"unload", "lenet5"});
  EXPECT_EQ(unloaded.exit_code, 0) << unloaded.err;
  ToolResult http_denied = Convctl({HttpUrl()}, {"load", "lenet5"});
  EXPECT_EQ(http_denied.exit_code, 1);
  EXPECT_NE(http_denied.err.find("'admin-key'"), std::string::npos) << http_denied.err;
  ToolResult loaded =
      Convctl({HttpUrl(), absl::StrCat("--header=admin-key=", kAdminKey), "--header=x-extra=1"},
              {"load", "lenet5"});
  EXPECT_EQ(loaded.exit_code, 0) << loaded.err;
  EXPECT_NE(loaded.out.find("loaded lenet5"), std::string::npos) << loaded.out;
}

TEST_F(ClientTlsTest, ConvloadLoadsOverTls) {
  const std::string dir = MakeTempDir("convload_tls");
  for (const char* mode : {"--streaming=false", "--streaming=true"}) {
    ToolResult result = Run(
        "client/convload", Plus({"lenet5", "--quiet", TlsUrl(), mode, "--concurrency=2",
                                 "--duration=500ms", "--warmup=100ms", "--json=" + dir + "/r.json"},
                                Trusted()));
    ASSERT_EQ(result.exit_code, 0) << mode << ": " << result.err;
    const json report = json::parse(ReadFile(dir + "/r.json").value());
    ASSERT_EQ(report["steps"].size(), 1u);
    EXPECT_GT(report["steps"][0]["requests"].get<int64_t>(), 0) << report;
    EXPECT_TRUE(report["steps"][0]["errors"].empty()) << report;
  }
}

TEST_F(ClientTlsTest, BadConnectionFlagsExitTwoNamingTheFlag) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{HttpUrl(), "--ssl"}, "--ssl is for gRPC urls"},
      {{TlsUrl(), "--root-cert=" + Cert("ca.pem")}, "need --ssl"},
      {{TlsUrl(), "--ssl", "--client-cert=" + Cert("client.pem")}, "go together"},
      {{TlsUrl(), "--ssl", "--root-cert=" + Cert("missing.pem")}, "--root-cert"},
      {{TlsUrl(), "--header=novalue"}, "NAME=VALUE"},
      {{TlsUrl(), "--header=Admin-Key=1"}, "lowercase"},
  };
  for (const auto& [flags, message] : cases) {
    for (const char* tool : {"client/convctl", "client/convload"}) {
      std::vector<std::string> args = flags;
      args.push_back(std::string(tool) == "client/convctl" ? "health" : "lenet5");
      ToolResult result = Run(tool, args);
      EXPECT_EQ(result.exit_code, 2) << tool << " " << message << ": " << result.err;
      EXPECT_NE(result.err.find(message), std::string::npos) << tool << ": " << result.err;
    }
  }
}

}  // namespace
}  // namespace convd::e2e
