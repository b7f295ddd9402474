// Helpers for the end-to-end suites: a model repository made in the test's
// temporary directory from the bundled networks with test configs, a real
// server on loopback, and client-side request builders.
#ifndef CONVD_TESTS_E2E_E2E_UTIL_H_
#define CONVD_TESTS_E2E_E2E_UTIL_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "engine/testing/model_repository.h"
#include "kernels/testing/temp_dir.h"
#include "proto/inference.grpc.pb.h"
#include "server/server.h"

namespace convd::e2e {

using testing::AddModel;     // a test model from a bundled network
using testing::MakeTempDir;  // a fresh directory under TEST_TMPDIR

// The bundled LeNet-5's Fashion-MNIST classes, and a test config for it
// (max batch 16, 1 ms batching delay, labels from labels.txt).
inline const std::vector<std::string> kFashionLabels = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
inline constexpr char kLenetConfig[] = R"pb(
  max_batch_size: 16
  input { name: "input" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [1, 28, 28] }
  output { name: "prob" data_type: TYPE_FP32 dims: [10] label_filename: "labels.txt" }
  dynamic_batching { max_queue_delay_microseconds: 1000 }
)pb";

// Options for a server of `repository` on 127.0.0.1 with ephemeral gRPC,
// HTTP and metrics ports.
ServerOptions LoopbackOptions(const std::string& repository);

// Starts a server; null (with a test failure) if it cannot start.
std::unique_ptr<Server> StartServer(const ServerOptions& options);
// LoopbackOptions(repository), with model control as given.
std::unique_ptr<Server> StartServer(const std::string& repository, bool model_control = false);

std::unique_ptr<inference::GRPCInferenceService::Stub> Connect(int port);

// A real server on loopback shared by every test of a suite, and a gRPC
// stub per test. `Suite` (the fixture deriving from this) provides a public
// `static void AddModels(const std::string& repository)`, and may provide
// `static void Configure(ServerOptions& options)` to change LoopbackOptions.
template <typename Suite>
class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repository_ = new std::string(MakeTempDir("repository"));
    Suite::AddModels(*repository_);
    ServerOptions options = LoopbackOptions(*repository_);
    if constexpr (requires { Suite::Configure(options); }) Suite::Configure(options);
    server_ = StartServer(options).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete repository_;
    repository_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    stub_ = Connect(server_->grpc_port());
  }

  static inline std::string* repository_ = nullptr;
  static inline Server* server_ = nullptr;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

// An FP32 request for `model` with input "input" of shape [rows, dims...]
// sent as raw_input_contents.
inference::ModelInferRequest FloatRequest(const std::string& model,
                                          const std::vector<int64_t>& shape,
                                          const std::vector<float>& data);

// Floats as their raw little-endian bytes (raw_input_contents, shared
// memory), and back.
std::string FloatBytes(const std::vector<float>& values);
std::vector<float> FloatsFromBytes(const std::string& bytes);

// The FP32 output of a response as floats (raw_output_contents[0]).
std::vector<float> OutputFloats(const inference::ModelInferResponse& response);

// The value of one sample line "name{labels} value" in Prometheus text
// (/metrics); -1 when absent.
double PrometheusSample(const std::string& metrics, const std::string& series);

// `model`'s entry in a repository index, or null where it is not listed.
const inference::RepositoryIndexResponse::ModelIndex* IndexEntry(
    const inference::RepositoryIndexResponse& index, const std::string& model);

// Splits a KServe BYTES tensor (4-byte little-endian length prefixes).
std::vector<std::string> BytesElements(const std::string& raw);

int64_t Elements(const std::vector<int64_t>& shape);

// Starts a program (argv[0] relative to the runfiles root, e.g.
// "server/convd") with stdin from /dev/null and stdout and stderr written
// to the given files (empty: inherited). Returns the pid, or -1 with the
// reason in `error`.
pid_t SpawnProcess(const std::vector<std::string>& argv, const std::string& stdout_path,
                   const std::string& stderr_path, std::string* error);

// Runs a program to completion with stdout and stderr captured.
struct ToolResult {
  int exit_code = -1;  // -1: it did not start or was killed by a signal
  std::string out;
  std::string err;
};
ToolResult RunTool(const std::vector<std::string>& argv);

// A throwaway PKI made by tools/make_test_certs.sh (which the test needs as
// data) in a fresh directory, whose path is returned: ca, other_ca, server
// (for localhost and 127.0.0.1), client and stranger, as NAME.pem and
// NAME.key. Empty, with a test failure, when it cannot be made.
std::string MakeTestCertificates();

}  // namespace convd::e2e

#endif  // CONVD_TESTS_E2E_E2E_UTIL_H_
