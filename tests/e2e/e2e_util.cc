#include "tests/e2e/e2e_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/file_util.h"
#include "gtest/gtest.h"
#include "server/core/bytes_tensor.h"

namespace convd::e2e {

ServerOptions LoopbackOptions(const std::string& repository) {
  ServerOptions options;
  options.model_repository = repository;
  options.grpc_address = "127.0.0.1";
  options.grpc_port = 0;
  options.grpc_max_message_bytes = 64 << 20;
  options.http_address = "127.0.0.1";
  options.http_port = 0;
  options.metrics_port = 0;
  return options;
}

std::unique_ptr<Server> StartServer(const ServerOptions& options) {
  auto server = Server::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

std::unique_ptr<Server> StartServer(const std::string& repository, bool model_control) {
  ServerOptions options = LoopbackOptions(repository);
  options.model_control = model_control ? ModelControl::kExplicit : ModelControl::kNone;
  return StartServer(options);
}

std::unique_ptr<inference::GRPCInferenceService::Stub> Connect(int port) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                           grpc::InsecureChannelCredentials(), args);
  return inference::GRPCInferenceService::NewStub(channel);
}

inference::ModelInferRequest FloatRequest(const std::string& model,
                                          const std::vector<int64_t>& shape,
                                          const std::vector<float>& data) {
  inference::ModelInferRequest request;
  request.set_model_name(model);
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  for (int64_t d : shape) input->add_shape(d);
  request.add_raw_input_contents(FloatBytes(data));
  return request;
}

std::string FloatBytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

std::vector<float> FloatsFromBytes(const std::string& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

std::vector<float> OutputFloats(const inference::ModelInferResponse& response) {
  if (response.raw_output_contents_size() == 0) return {};
  return FloatsFromBytes(response.raw_output_contents(0));
}

double PrometheusSample(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + series.size() + 2));
}

const inference::RepositoryIndexResponse::ModelIndex* IndexEntry(
    const inference::RepositoryIndexResponse& index, const std::string& model) {
  for (const auto& entry : index.models()) {
    if (entry.name() == model) return &entry;
  }
  return nullptr;
}

std::vector<std::string> BytesElements(const std::string& raw) {
  std::vector<std::string_view> views;
  (void)SplitBytesTensor(raw, views);
  return std::vector<std::string>(views.begin(), views.end());
}

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

pid_t SpawnProcess(const std::vector<std::string>& args, const std::string& stdout_path,
                   const std::string& stderr_path, std::string* error) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& arg : copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  constexpr int kWrite = O_WRONLY | O_CREAT | O_TRUNC;
  if (!stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), kWrite, 0644);
  }
  if (!stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), kWrite, 0644);
  }
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    if (error != nullptr) {
      *error = absl::StrCat("cannot start ", args[0], ": ", std::strerror(spawned));
    }
    return -1;
  }
  return pid;
}

ToolResult RunTool(const std::vector<std::string>& args) {
  static std::atomic<int> counter{0};
  const std::string stem = MakeTempDir(absl::StrCat("tool_run", counter++)) + "/run";
  const std::string out_path = stem + ".out", err_path = stem + ".err";
  ToolResult result;
  const pid_t pid = SpawnProcess(args, out_path, err_path, &result.err);
  if (pid < 0) return result;
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = ReadFile(out_path).value_or("");
  result.err = ReadFile(err_path).value_or("");
  return result;
}

std::string MakeTestCertificates() {
  const std::string dir = MakeTempDir("certs");
  const ToolResult made = RunTool({"/bin/bash", "tools/make_test_certs.sh", dir});
  if (made.exit_code != 0) {
    ADD_FAILURE() << "tools/make_test_certs.sh failed: " << made.err;
    return "";
  }
  return dir;
}

}  // namespace convd::e2e
