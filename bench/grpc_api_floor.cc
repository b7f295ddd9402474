// grpc_api_floor: the round trip of a call that does nothing (ServerLive)
// on each of gRPC's three server APIs, to tell how much of convd's gRPC
// floor (bench/grpc_floor) is the API it serves on. For each API in turn,
// and for several rounds, it starts a server process (this program again,
// with --serve) that implements ServerLive alone, then calls it from one
// client on one connection and prints the median and p90 round trip.
//   callback  what convd uses: the handler runs on gRPC's own threads
//   async     completion queues, each polled by a thread of the server's
//             (Triton's and TF Serving's model), --async_threads of them
//   sync      gRPC's synchronous server and its thread pool
//
//   grpc_api_floor [--rounds 3] [--requests 3000] [--keep_deadlock_detection]
// --keep_deadlock_detection leaves Abseil's mutex deadlock detector on in
// both processes (server/mutex_settings.h), to measure what it costs.
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "client/load_generator.h"
#include "grpcpp/grpcpp.h"
#include "proto/inference.grpc.pb.h"
#include "server/mutex_settings.h"

ABSL_FLAG(std::string, serve, "",
          "Internal: serve ServerLive on this API (callback, async, sync).");
ABSL_FLAG(int, port, 0, "Internal, with --serve: the loopback port.");
ABSL_FLAG(int, async_threads, 2, "Completion queues (one thread each) of the async server.");
ABSL_FLAG(int, rounds, 3, "Rounds over the three APIs.");
ABSL_FLAG(int, requests, 3000, "Calls measured per server, after as many unmeasured ones.");
ABSL_FLAG(bool, keep_deadlock_detection, false, "Leave Abseil's deadlock detector on.");

namespace convd {
namespace {

using Inference = inference::GRPCInferenceService;

class CallbackLive final : public Inference::WithCallbackMethod_ServerLive<Inference::Service> {
  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest* /*request*/,
                                       inference::ServerLiveResponse* response) override {
    response->set_live(true);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class SyncLive final : public Inference::Service {
  grpc::Status ServerLive(grpc::ServerContext* /*context*/,
                          const inference::ServerLiveRequest* /*request*/,
                          inference::ServerLiveResponse* response) override {
    response->set_live(true);
    return grpc::Status::OK;
  }
};

using AsyncLive = Inference::WithAsyncMethod_ServerLive<Inference::Service>;

// One async call, its tag on the queue: first for its arrival, then for
// its answer having been sent.
struct AsyncCall {
  grpc::ServerContext context;
  inference::ServerLiveRequest request;
  inference::ServerLiveResponse response;
  grpc::ServerAsyncResponseWriter<inference::ServerLiveResponse> writer{&context};
  bool answered = false;
};

void PollAsync(AsyncLive* service, grpc::ServerCompletionQueue* queue) {
  auto await_next_call = [&] {
    auto* call = new AsyncCall;
    service->RequestServerLive(&call->context, &call->request, &call->writer, queue, queue, call);
  };
  await_next_call();
  void* tag;
  bool ok;
  while (queue->Next(&tag, &ok)) {
    auto* call = static_cast<AsyncCall*>(tag);
    if (call->answered || !ok) {
      delete call;
      continue;
    }
    await_next_call();
    call->response.set_live(true);
    call->answered = true;
    call->writer.Finish(call->response, grpc::Status::OK, call);
  }
}

// Serves until killed.
int Serve(const std::string& api, int port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials());
  CallbackLive callback;
  SyncLive sync;
  AsyncLive async;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  if (api == "callback") {
    builder.RegisterService(&callback);
  } else if (api == "sync") {
    builder.RegisterService(&sync);
  } else if (api == "async") {
    builder.RegisterService(&async);
    for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_async_threads)); ++i) {
      queues.push_back(builder.AddCompletionQueue());
    }
  } else {
    std::fprintf(stderr, "grpc_api_floor: unknown API %s\n", api.c_str());
    return 2;
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  std::vector<std::thread> pollers;
  for (auto& queue : queues) pollers.emplace_back(PollAsync, &async, queue.get());
  server->Wait();
  return 0;
}

// Starts this program serving `api` on `port`; returns its pid, or -1.
pid_t StartServer(const char* self, const std::string& api, int port) {
  std::vector<std::string> args = {
      self, "--serve=" + api, absl::StrCat("--port=", port),
      absl::StrCat("--async_threads=", absl::GetFlag(FLAGS_async_threads))};
  if (absl::GetFlag(FLAGS_keep_deadlock_detection)) args.push_back("--keep_deadlock_detection");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

// Median and p90 round trip of ServerLive in ms, after as many unmeasured
// calls; empty when the server does not answer.
std::vector<double> MeasureLive(int port, int requests) {
  auto stub = Inference::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  client::StepResult measured;  // percentiles as convload and grpc_floor report them
  for (int i = 0; i < 2 * requests; ++i) {
    grpc::ClientContext context;
    if (i == 0) {
      context.set_wait_for_ready(true);  // the server may still be starting
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    }
    inference::ServerLiveRequest request;
    inference::ServerLiveResponse response;
    const auto start = std::chrono::steady_clock::now();
    if (!stub->ServerLive(&context, request, &response).ok()) return {};
    const auto end = std::chrono::steady_clock::now();
    if (i >= requests) {
      measured.latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(end - start).count());
    }
  }
  return {measured.Percentile(50), measured.Percentile(90)};
}

// A loopback port free now (bound, read, released).
int FreePort() {
  const int socket_fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = -1;
  if (bind(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(socket_fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(socket_fd);
  return port;
}

int Compare(const char* self) {
  const int requests = std::max(1, absl::GetFlag(FLAGS_requests));
  std::printf("| round | API | ServerLive p50 ms | p90 ms |\n|---|---|---|---|\n");
  for (int round = 1; round <= absl::GetFlag(FLAGS_rounds); ++round) {
    for (const char* api : {"callback", "async", "sync"}) {
      const int port = FreePort();
      const pid_t server = port < 0 ? -1 : StartServer(self, api, port);
      if (server < 0) {
        std::fprintf(stderr, "grpc_api_floor: could not start the %s server\n", api);
        return 1;
      }
      const std::vector<double> result = MeasureLive(port, requests);
      kill(server, SIGKILL);
      waitpid(server, nullptr, 0);
      if (result.empty()) {
        std::fprintf(stderr, "grpc_api_floor: the %s server did not answer\n", api);
        return 1;
      }
      std::printf("| %d | %s | %.4f | %.4f |\n", round, api, result[0], result[1]);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace convd

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_keep_deadlock_detection)) convd::DisableMutexDeadlockDetection();
  const std::string api = absl::GetFlag(FLAGS_serve);
  return api.empty() ? convd::Compare(argv[0]) : convd::Serve(api, absl::GetFlag(FLAGS_port));
}
