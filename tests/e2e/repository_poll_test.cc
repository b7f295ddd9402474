// --model-control=poll over real gRPC: a version copied into the repository
// serves its own weights (against the float64 reference), a removed model
// stops serving while the others go on, the API's load and unload say why
// they are refused, and readiness follows --strict-readiness. Also
// --load-model, --exit-on-error, and the flags' mistakes as convd reports
// them.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "engine/network_loader.h"
#include "engine/testing/reference_forward.h"
#include "engine/weights.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

namespace fs = std::filesystem;
using testing::MaxRelativeError;

constexpr std::chrono::milliseconds kPollInterval(100);

ServerOptions PollingOptions(const std::string& repository, bool strict_readiness = true) {
  ServerOptions options = LoopbackOptions(repository);
  options.model_control = ModelControl::kPoll;
  options.repository_poll_interval = kPollInterval;
  options.strict_readiness = strict_readiness;
  return options;
}

// Waits (up to 20 s: files settle for 1 s first) until `done` holds.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

class PollClient {
 public:
  explicit PollClient(int port) : stub_(Connect(port)) {}

  bool ModelReady(const std::string& name, const std::string& version = "") {
    grpc::ClientContext context;
    inference::ModelReadyRequest request;
    request.set_name(name);
    request.set_version(version);
    inference::ModelReadyResponse response;
    return stub_->ModelReady(&context, request, &response).ok() && response.ready();
  }
  bool ServerReady() {
    grpc::ClientContext context;
    inference::ServerReadyResponse response;
    return stub_->ServerReady(&context, {}, &response).ok() && response.ready();
  }
  inference::RepositoryIndexResponse Index() {
    grpc::ClientContext context;
    inference::RepositoryIndexResponse response;
    EXPECT_TRUE(stub_->RepositoryIndex(&context, {}, &response).ok());
    return response;
  }
  grpc::Status Infer(const std::string& model, const std::string& version,
                     const std::vector<float>& images, std::vector<float>* output) {
    inference::ModelInferRequest request =
        FloatRequest(model, {static_cast<int64_t>(images.size() / (28 * 28)), 1, 28, 28}, images);
    request.set_model_version(version);
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    grpc::Status status = stub_->ModelInfer(&context, request, &response);
    if (status.ok() && output != nullptr) *output = OutputFloats(response);
    return status;
  }
  inference::GRPCInferenceService::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

// lenet's version 1 copied as `version` with its own weights (another
// seed), written elsewhere and moved in whole, as the README advises.
void AddVersion(const std::string& repository, int version) {
  const fs::path model = fs::path(repository) / "lenet";
  const fs::path staging = fs::path(repository).parent_path() / "staging";
  fs::remove_all(staging);
  fs::create_directories(staging);
  {
    std::ifstream in(model / "1" / "network.pbtxt");
    std::ofstream out(staging / "network.pbtxt");
    out << in.rdbuf() << "\ninit_seed: " << version * 7919 << "\n";
  }
  fs::rename(staging, model / std::to_string(version));
}

// What version `version` of lenet computes for `images`, in float64, from
// its network as written (the reference runs the graph before any pass).
std::vector<double> Reference(const std::string& repository, int version,
                              const std::vector<float>& images) {
  std::stringstream text;
  text << std::ifstream(fs::path(repository) / "lenet" / std::to_string(version) / "network.pbtxt")
              .rdbuf();
  absl::StatusOr<NetworkDef> definition = ParseNetworkDef(text.str());
  EXPECT_TRUE(definition.ok()) << definition.status();
  if (!definition.ok()) return {};
  absl::StatusOr<Graph> graph = GraphFromNetworkDef(*definition);
  EXPECT_TRUE(graph.ok()) << graph.status();
  if (!graph.ok()) return {};
  InitializeHeWeights(definition->init_seed(), *graph);
  return testing::ReferenceForward(*graph, images.data(),
                                   static_cast<int>(images.size() / (28 * 28)));
}

TEST(RepositoryPollTest, NewVersionsServeAndRemovedModelsStopWhileTheRestServes) {
  const std::string repository = MakeTempDir("poll_repository");
  AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  AddModel(repository, "other", "lenet5", kLenetConfig, kFashionLabels);
  std::unique_ptr<Server> server = StartServer(PollingOptions(repository));
  ASSERT_NE(server, nullptr);
  PollClient client(server->grpc_port());

  // Odd batch, fresh random images.
  const std::vector<float> images = testing::RandomVector(3 * 28 * 28, 0.0f, 1.0f);
  std::vector<float> output;
  ASSERT_TRUE(client.Infer("lenet", "", images, &output).ok());
  EXPECT_LE(MaxRelativeError(output.data(), Reference(repository, 1, images)), 2e-5);

  AddVersion(repository, 2);
  ASSERT_TRUE(Eventually([&] { return client.ModelReady("lenet", "2"); }))
      << "version 2 was never served";
  // The latest version alone serves (the default version policy).
  EXPECT_FALSE(client.ModelReady("lenet", "1"));
  EXPECT_EQ(client.Infer("lenet", "1", images, nullptr).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(client.Infer("lenet", "", images, &output).ok());
  const std::vector<double> two = Reference(repository, 2, images);
  EXPECT_LE(MaxRelativeError(output.data(), two), 2e-5);
  EXPECT_GT(MaxRelativeError(output.data(), Reference(repository, 1, images)), 1e-2)
      << "version 2 computes what version 1 did: its own weights were not loaded";

  // The API cannot load or unload, and says why.
  {
    grpc::ClientContext context;
    inference::RepositoryModelUnloadRequest request;
    request.set_model_name("other");
    inference::RepositoryModelUnloadResponse response;
    const grpc::Status status = client.stub().RepositoryModelUnload(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_TRUE(absl::StrContains(status.error_message(), "--model-control=poll"))
        << status.error_message();
  }

  fs::remove_all(fs::path(repository) / "other");
  ASSERT_TRUE(Eventually([&] {
    return client.Infer("other", "", images, nullptr).error_code() == grpc::StatusCode::NOT_FOUND;
  })) << "a removed model kept serving";
  EXPECT_EQ(IndexEntry(client.Index(), "other"), nullptr);
  EXPECT_TRUE(client.ServerReady());
  ASSERT_TRUE(client.Infer("lenet", "2", images, &output).ok());
  EXPECT_LE(MaxRelativeError(output.data(), two), 2e-5);
}

// A model that fails to load makes the server unready, unless readiness
// is not strict; either way the others serve.
TEST(RepositoryPollTest, ABrokenModelCountsAgainstReadinessOnlyWhenStrict) {
  for (const bool strict : {true, false}) {
    SCOPED_TRACE(strict ? "strict" : "not strict");
    const std::string repository = MakeTempDir("poll_readiness");
    AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
    std::unique_ptr<Server> server = StartServer(PollingOptions(repository, strict));
    ASSERT_NE(server, nullptr);
    PollClient client(server->grpc_port());
    ASSERT_TRUE(client.ServerReady());

    // Declares 3 channels for a 1-channel network.
    AddModel(repository, "broken", "lenet5", R"pb(
      max_batch_size: 4
      input {
        name: "input"
        dims: [ 3, 28, 28 ]
      }
      output {
        name: "prob"
        dims: [ 10 ]
      }
    )pb");
    ASSERT_TRUE(Eventually([&] {
      const inference::RepositoryIndexResponse index = client.Index();
      const auto* entry = IndexEntry(index, "broken");
      return entry != nullptr && entry->state() == "UNAVAILABLE" && !entry->reason().empty() &&
             entry->reason() != "not loaded";
    })) << "the broken model was never tried";
    EXPECT_EQ(client.ServerReady(), !strict);
    EXPECT_FALSE(client.ModelReady("broken"));
    const std::vector<float> images = testing::RandomVector(28 * 28, 0.0f, 1.0f);
    EXPECT_TRUE(client.Infer("lenet", "", images, nullptr).ok());

    // Fixed by removing it: ready again.
    fs::remove_all(fs::path(repository) / "broken");
    EXPECT_TRUE(Eventually([&] { return client.ServerReady(); }));
  }
}

TEST(LoadModelTest, ExplicitModeLoadsOnlyTheNamedModelsAtStart) {
  const std::string repository = MakeTempDir("load_model_repository");
  AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  AddModel(repository, "other", "lenet5", kLenetConfig, kFashionLabels);
  ServerOptions options = LoopbackOptions(repository);
  options.model_control = ModelControl::kExplicit;
  options.startup_models = {"other"};
  std::unique_ptr<Server> server = StartServer(options);
  ASSERT_NE(server, nullptr);
  PollClient client(server->grpc_port());
  EXPECT_TRUE(client.ModelReady("other"));
  EXPECT_FALSE(client.ModelReady("lenet"));
  const inference::RepositoryIndexResponse index = client.Index();
  const auto* entry = IndexEntry(index, "lenet");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->reason(), "not loaded");
  EXPECT_TRUE(client.ServerReady());  // a model never loaded does not count

  grpc::ClientContext context;
  inference::RepositoryModelLoadRequest request;
  request.set_model_name("lenet");
  inference::RepositoryModelLoadResponse response;
  ASSERT_TRUE(client.stub().RepositoryModelLoad(&context, request, &response).ok());
  EXPECT_TRUE(client.ModelReady("lenet"));
}

TEST(ExitOnErrorTest, AModelThatFailsToLoadStopsTheStartOnlyWhenAsked) {
  const std::string repository = MakeTempDir("exit_on_error_repository");
  AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  AddModel(repository, "broken", "lenet5", "max_batch_size: -1");
  ServerOptions options = LoopbackOptions(repository);
  options.exit_on_error = true;
  absl::StatusOr<std::unique_ptr<Server>> refused = Server::Start(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                "--exit-on-error: 1 model(s) failed to load (broken: "))
      << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "max_batch_size")) << refused.status();

  options.exit_on_error = false;  // convd's default: serve what loaded
  std::unique_ptr<Server> server = StartServer(options);
  ASSERT_NE(server, nullptr);
  PollClient client(server->grpc_port());
  EXPECT_TRUE(client.ModelReady("lenet"));
  EXPECT_FALSE(client.ModelReady("broken"));
}

TEST(ModelControlFlagsTest, MistakesStopConvdNamingTheFlag) {
  const std::string repository = MakeTempDir("flags_repository");
  AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  AddModel(repository, "broken", "lenet5", "max_batch_size: -1");
  const std::string root = "--model-repository=" + repository;
  struct Case {
    std::vector<std::string> flags;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--model-control=watch"}, 2, "--model-control must be none, explicit or poll; got 'watch'"},
      {{"--model-control=poll", "--repository-poll-secs=0"},
       1,
       "--repository-poll-secs must be at least 1"},
      {{"--load-model=lenet"}, 1, "--load-model needs --model-control=explicit"},
      {{"--model-control=poll", "--load-model=lenet"},
       1,
       "--load-model needs --model-control=explicit"},
      {{"--model-control=explicit", "--load-model=lenet", "--load-model=lenet_v2"},
       1,
       "--load-model 'lenet_v2': no such model in"},
      {{"--model-control=explicit", "--load-model=../lenet"},
       1,
       "--load-model '../lenet': no such model"},
      {{"--exit-on-error", "--model-control=explicit", "--load-model=broken"},
       1,
       "--exit-on-error: 1 model(s) failed to load (broken: "},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {"server/convd",      root,
                                     "--grpc-port=0",     "--http-port=-1",
                                     "--metrics-port=-1", "--device=cpu"};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    const ToolResult result = RunTool(argv);
    EXPECT_EQ(result.exit_code, c.exit_code) << c.flags.back() << "\n" << result.err;
    EXPECT_TRUE(absl::StrContains(result.err, c.message)) << result.err;
  }
}

}  // namespace
}  // namespace convd::e2e
