// The gRPC port's connection policy end to end (Triton's keepalive and
// connection-age flags): a real server on loopback, real channels watched
// through their connectivity state. (The keepalive values are passed to
// gRPC as they are; gRPC 1.51's clients hold back pings on idle
// connections, so a strike policy is not observable from here.)
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/grpc.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

using std::chrono::milliseconds;

class GrpcConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repository_ = MakeTempDir("repository");
    AddModel(repository_, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  }

  // A channel to the server on its own connection (no subchannel sharing
  // with other channels of this process), with `arguments` set.
  static std::shared_ptr<grpc::Channel> Channel(const Server& server,
                                                grpc::ChannelArguments arguments = {}) {
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server.grpc_port()),
                                     grpc::InsecureChannelCredentials(), arguments);
  }

  static bool Live(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = inference::GRPCInferenceService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    inference::ServerLiveResponse response;
    return stub->ServerLive(&context, {}, &response).ok() && response.live();
  }

  // Whether the channel's connection is still up after `wait` with no calls.
  static bool StillConnectedAfter(const std::shared_ptr<grpc::Channel>& channel,
                                  milliseconds wait) {
    std::this_thread::sleep_for(wait);
    return channel->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
  }

  std::string repository_;
};

TEST_F(GrpcConnectionTest, AConnectionPastItsMaxAgeIsClosedAndTheClientReconnects) {
  ServerOptions options = LoopbackOptions(repository_);
  options.grpc_connections.max_connection_age_ms = 300;
  options.grpc_connections.max_connection_age_grace_ms = 100;
  std::unique_ptr<Server> aging = StartServer(options);
  ASSERT_NE(aging, nullptr);
  std::unique_ptr<Server> lasting = StartServer(LoopbackOptions(repository_));
  ASSERT_NE(lasting, nullptr);

  auto to_aging = Channel(*aging), to_lasting = Channel(*lasting);
  ASSERT_TRUE(Live(to_aging));
  ASSERT_TRUE(Live(to_lasting));
  // gRPC adds up to 10% jitter to the age; 1.5 s is past age and grace.
  EXPECT_FALSE(StillConnectedAfter(to_aging, milliseconds(1500)));
  EXPECT_TRUE(StillConnectedAfter(to_lasting, milliseconds(0)));
  EXPECT_TRUE(Live(to_aging)) << "the next call reconnects";
}

TEST_F(GrpcConnectionTest, OutOfRangeValuesStopTheServerAtStartNamingTheFlag) {
  // Triton's defaults with one member changed.
  auto with = [](int64_t GrpcConnectionOptions::*member, int64_t value) {
    GrpcConnectionOptions options;
    options.*member = value;
    return options;
  };
  const std::pair<GrpcConnectionOptions, std::string> cases[] = {
      {with(&GrpcConnectionOptions::keepalive_time_ms, 0), "--grpc-keepalive-time"},
      {with(&GrpcConnectionOptions::keepalive_timeout_ms, -1), "--grpc-keepalive-timeout"},
      {with(&GrpcConnectionOptions::max_ping_strikes, -1), "--grpc-http2-max-ping-strikes"},
      {with(&GrpcConnectionOptions::max_connection_age_ms, int64_t{1} << 31),
       "--grpc-max-connection-age"},
  };
  for (const auto& [connections, flag] : cases) {
    ServerOptions options = LoopbackOptions(repository_);
    options.grpc_connections = connections;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options);
    ASSERT_FALSE(server.ok()) << flag;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(server.status().message().find(flag), std::string::npos) << server.status();
  }
}

}  // namespace
}  // namespace convd::e2e
