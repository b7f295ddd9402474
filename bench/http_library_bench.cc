// The HTTP library decision: the same trivial endpoint (a 60-byte JSON
// body) served by convd's transport (Boost.Beast, async, server/http) and
// by cpp-httplib (Debian's libcpp-httplib-dev: blocking, a thread pool of
// one thread per connection in service), measured with wrk by
// bench/http_library_bench.sh: both with 2 threads (convd's default), and
// cpp-httplib also with 64 (a thread for each kept-alive connection). Results:
// bench/RESULTS.md, "HTTP library".
//
//   http_library_bench beast|httplib PORT THREADS
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "httplib.h"
#include "server/http/http_server.h"

namespace {

constexpr char kBody[] = R"({"name":"convd","version":"0.1.0","extensions":["statistics"]})";

int ServeBeast(int port, int threads) {
  convd::HttpServer::Options options;
  options.address = "127.0.0.1";
  options.port = port;
  options.io_threads = threads;
  auto server = convd::HttpServer::Start(
      options, [](convd::HttpRequest, std::function<void(convd::HttpResponse)> respond) {
        convd::HttpResponse response;
        response.body = kBody;
        respond(std::move(response));
      });
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int received;
  sigwait(&signals, &received);
  return 0;
}

int ServeHttplib(int port, int threads) {
  httplib::Server server;
  server.set_tcp_nodelay(true);  // else delayed ACKs add 40 ms per response
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.Get("/v2", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(kBody, "application/json");
  });
  return server.listen("127.0.0.1", port) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: http_library_bench beast|httplib PORT THREADS\n");
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  const std::string library = argv[1];
  const int port = std::atoi(argv[2]), threads = std::atoi(argv[3]);
  if (library == "beast") {
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return ServeBeast(port, threads);
  }
  if (library == "httplib") return ServeHttplib(port, threads);
  return 2;
}
