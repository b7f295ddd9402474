// The convd binary drains on SIGTERM: readiness goes false, new requests
// are refused with UNAVAILABLE, every queued request completes, exit 0.
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <future>
#include <string>
#include <string_view>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/file_util.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

using std::chrono::milliseconds;

std::string ReadAll(const std::string& path) { return ReadFile(path).value_or(""); }

// Starts convd with stderr in `log`; returns its pid and listening port.
std::pair<pid_t, int> StartConvd(const std::string& repository, const std::string& log) {
  const std::vector<std::string> args = {"server/convd",       "--model-repository=" + repository,
                                         "--grpc-address=127.0.0.1", "--grpc-port=0",
                                         "--http-address=127.0.0.1", "--http-port=0",
                                         "--metrics-port=0",         "--log-level=debug"};
  std::string error;
  const pid_t pid = SpawnProcess(args, "", log, &error);
  EXPECT_GT(pid, 0) << error;
  constexpr std::string_view kListening = "gRPC listening on 127.0.0.1:";
  for (int i = 0; i < 600; ++i) {  // up to a minute (sanitizer builds load slowly)
    const std::string text = ReadAll(log);
    if (const size_t at = text.find(kListening); at != std::string::npos) {
      return {pid, std::atoi(text.c_str() + at + kListening.size())};
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  ADD_FAILURE() << "convd did not start:\n" << ReadAll(log);
  return {pid, 0};
}

TEST(ShutdownTest, SigtermDrainsEveryQueuedRequestAndExitsZero) {
  const std::string repository = MakeTempDir("shutdown_repository");
  AddModel(repository, "lenet", "lenet5", R"pb(
    max_batch_size: 32
    input { name: "input" dims: [1, 28, 28] }
    output { name: "prob" dims: [10] }
    dynamic_batching { max_queue_delay_microseconds: 400000 strict_queue_delay: true }
  )pb");
  const std::string log = repository + "/convd.log";
  const auto [pid, port] = StartConvd(repository, log);
  ASSERT_GT(port, 0);

  // 16 requests wait in the queue for the 0.4 s batching delay...
  std::vector<std::future<grpc::Status>> in_flight;
  for (int i = 0; i < 16; ++i) {
    in_flight.push_back(std::async(std::launch::async, [port = port] {
      auto stub = Connect(port);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      inference::ModelInferResponse response;
      grpc::Status status = stub->ModelInfer(
          &context, FloatRequest("lenet", {1, 1, 28, 28}, testing::RandomVector(28 * 28)),
          &response);
      if (status.ok() && OutputFloats(response).size() != 10) {
        return grpc::Status(grpc::StatusCode::DATA_LOSS, "wrong output size");
      }
      return status;
    }));
  }
  std::this_thread::sleep_for(milliseconds(150));
  // ...when the server is told to stop.
  ASSERT_EQ(kill(pid, SIGTERM), 0);

  // Readiness goes false (or the listener is already closed).
  auto stub = Connect(port);
  bool drained = false;
  for (int i = 0; i < 200 && !drained; ++i) {
    grpc::ClientContext context;
    inference::ServerReadyResponse ready;
    const grpc::Status status = stub->ServerReady(&context, {}, &ready);
    drained = !status.ok() || !ready.ready();
    if (!drained) std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(drained);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  inference::ModelInferResponse response;
  const grpc::Status late = stub->ModelInfer(
      &context, FloatRequest("lenet", {1, 1, 28, 28}, testing::RandomVector(28 * 28)), &response);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::UNAVAILABLE) << late.error_message();

  for (auto& request : in_flight) {
    const grpc::Status status = request.get();
    EXPECT_TRUE(status.ok()) << "a queued request was lost: " << status.error_message();
  }
  int wait_status = 0;
  ASSERT_EQ(waitpid(pid, &wait_status, 0), pid);
  EXPECT_TRUE(WIFEXITED(wait_status)) << ReadAll(log);
  EXPECT_EQ(WEXITSTATUS(wait_status), 0) << ReadAll(log);
  const std::string text = ReadAll(log);
  EXPECT_NE(text.find("draining"), std::string::npos);
  // --log-level=debug: one access line per request, with batch and times.
  int batched = 0;
  for (size_t at = text.find(" D access "); at != std::string::npos;
       at = text.find(" D access ", at + 1)) {
    const std::string line = text.substr(at, text.find('\n', at) - at);
    if (line.find("model=\"lenet\" version=1 status=OK") != std::string::npos &&
        line.find(" rows=1 batch_size=") != std::string::npos &&
        line.find(" queue_us=") != std::string::npos) {
      ++batched;
    }
  }
  EXPECT_EQ(batched, 16) << text;
}

}  // namespace
}  // namespace convd::e2e
