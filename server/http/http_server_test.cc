// The HTTP transport alone (no gRPC, so it also runs under ThreadSanitizer):
// responses given later from other threads, keep-alive, many concurrent
// connections, limits, and Stop() waiting for responses in flight.
#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/http_connection.h"
#include "gtest/gtest.h"
#include "server/http/content_coding.h"

namespace convd {
namespace {

using client::HttpCall;
using client::HttpConnection;
using client::HttpResult;

HttpServer::Options LoopbackOptions() {
  HttpServer::Options options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.io_threads = 2;
  return options;
}

// Echoes method, target and body; answers from a fresh thread after
// `delay`, as an inference completing on a compute thread does.
HttpHandler EchoLater(std::chrono::milliseconds delay, std::atomic<int>* handled) {
  return [delay, handled](HttpRequest request, std::function<void(HttpResponse)> respond) {
    std::thread([=, request = std::move(request), respond = std::move(respond)] {
      std::this_thread::sleep_for(delay);
      HttpResponse response;
      response.content_type = "text/plain";
      response.body = request.method + " " + request.target + " " + request.body + " " +
                      request.header("X-Tag");
      response.headers.emplace_back("X-Echo", "1");
      handled->fetch_add(1);
      respond(std::move(response));
    }).detach();
  };
}

TEST(HttpServerTest, AnswersFromOtherThreadsOnKeptAliveConnections) {
  std::atomic<int> handled{0};
  auto server = HttpServer::Start(LoopbackOptions(), EchoLater(std::chrono::milliseconds(1),
                                                                &handled));
  ASSERT_TRUE(server.ok()) << server.status();
  constexpr int kClients = 16, kRequests = 20;
  std::vector<std::future<int>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(std::async(std::launch::async, [&, c] {
      HttpConnection connection((*server)->port());
      int ok = 0;
      for (int r = 0; r < kRequests; ++r) {
        const std::string body = "c" + std::to_string(c) + "r" + std::to_string(r);
        HttpResult result =
            connection.Send("POST", "/x?y=1", body, {{"X-Tag", std::to_string(c)}});
        ok += result.status == 200 &&
              result.body == "POST /x?y=1 " + body + " " + std::to_string(c) &&
              result.headers["x-echo"] == "1" && result.headers["server"] == "convd";
      }
      return ok;
    }));
  }
  for (auto& client : clients) EXPECT_EQ(client.get(), kRequests);
  EXPECT_EQ(handled.load(), kClients * kRequests);
}

TEST(HttpServerTest, LargeBodiesArriveWholeAndTheHeaderLimitHoldsAfterThem) {
  // Bodies are read with room for 64 KiB a read; headers are not, as Beast
  // checks header_limit only against what one read leaves unparsed. Both
  // on one kept-alive connection, so the second request's header is read
  // through the buffer the first one's body grew.
  std::atomic<int> handled{0};
  auto server =
      HttpServer::Start(LoopbackOptions(), EchoLater(std::chrono::milliseconds(0), &handled));
  ASSERT_TRUE(server.ok()) << server.status();
  HttpConnection connection((*server)->port());
  std::string body(3 * 224 * 224 * 4 + 13, '\0');  // an AlexNet tensor and a ragged tail
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 131 % 251);
  HttpResult large = connection.Send("POST", "/large", body);
  EXPECT_EQ(large.status, 200);
  EXPECT_TRUE(large.body == "POST /large " + body + " ") << "the body did not arrive whole";

  std::vector<std::pair<std::string, std::string>> big_headers;
  for (int i = 0; i < 20; ++i)
    big_headers.emplace_back("X-Big" + std::to_string(i), std::string(4000, 'h'));
  EXPECT_EQ(connection.Send("GET", "/", "", big_headers).status, 431);
  EXPECT_EQ(handled.load(), 1);
}

TEST(HttpServerTest, LimitsAndMalformedRequests) {
  std::atomic<int> handled{0};
  HttpServer::Options options = LoopbackOptions();
  options.max_body_bytes = 100;
  auto server = HttpServer::Start(options, EchoLater(std::chrono::milliseconds(0), &handled));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  EXPECT_EQ(HttpCall(port, "POST", "/", std::string(101, 'x')).status, 413);
  EXPECT_EQ(HttpCall(port, "POST", "/", std::string(100, 'x')).status, 200);
  std::vector<std::pair<std::string, std::string>> big_headers;
  for (int i = 0; i < 20; ++i) big_headers.emplace_back("X-Big" + std::to_string(i), std::string(4000, 'h'));
  HttpResult header = HttpCall(port, "GET", "/", "", big_headers);
  EXPECT_EQ(header.status, 431) << header.body;
  EXPECT_EQ(handled.load(), 1);

  // A second server cannot take the same port; the error names it.
  options.port = port;
  auto clash = HttpServer::Start(options, EchoLater(std::chrono::milliseconds(0), &handled));
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("cannot listen for HTTP"), std::string::npos);
  options.address = "not an address";
  EXPECT_EQ(HttpServer::Start(options, EchoLater(std::chrono::milliseconds(0), &handled))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// What a socket reads within 5 s after sending `request` on a fresh
// connection to 127.0.0.1:port (until the server closes it).
std::string RawExchange(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string received;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) received.append(buffer, n);
  }
  close(fd);
  return received;
}

TEST(HttpServerTest, AScreenAnswersFromTheHeadersBeforeTheBodyIsRead) {
  std::atomic<int> handled{0};
  HttpServer::Options options = LoopbackOptions();
  options.screen = [](const HttpRequest& head) -> std::optional<HttpResponse> {
    if (head.target.rfind("/locked", 0) != 0 || head.header("X-Key") == "ok") return std::nullopt;
    HttpResponse refused;
    refused.status = 403;
    refused.body = "no key for " + head.method + " " + head.target;
    return refused;
  };
  auto server = HttpServer::Start(options, EchoLater(std::chrono::milliseconds(0), &handled));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  const HttpResult refused = HttpCall(port, "POST", "/locked/infer", "body");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.body, "no key for POST /locked/infer");
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(HttpCall(port, "POST", "/locked/infer", "body", {{"X-Key", "ok"}}).status, 200);
  EXPECT_EQ(HttpCall(port, "POST", "/open", "body").status, 200);
  EXPECT_EQ(handled.load(), 2);

  // A body announced but never sent: the refusal comes at once, and the
  // connection closes, rather than the server waiting for 100 MB.
  const auto start = std::chrono::steady_clock::now();
  const std::string answer = RawExchange(
      port, "POST /locked/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 403", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  // And a client waiting for 100-continue gets the refusal instead.
  const std::string expecting = RawExchange(
      port,
      "POST /locked/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(expecting.rfind("HTTP/1.1 403", 0), 0u) << expecting;
  EXPECT_EQ(handled.load(), 2);
}

// Answers with the body as the handler received it, and the
// Content-Encoding header it saw (in X-Seen-Encoding).
void EchoBody(HttpRequest request, std::function<void(HttpResponse)> respond) {
  HttpResponse response;
  response.content_type = "text/plain";
  response.body = std::move(request.body);
  response.headers.emplace_back("X-Seen-Encoding", request.header("Content-Encoding"));
  respond(std::move(response));
}

// Text of `bytes` bytes that compresses, as JSON does.
std::string Text(size_t bytes) {
  std::string text;
  for (int i = 0; text.size() < bytes; ++i) text += std::to_string(i * 7919 % 1000) + ",";
  text.resize(bytes);
  return text;
}

TEST(HttpServerTest, HandlersSeeCompressedBodiesDecoded) {
  HttpServer::Options options = LoopbackOptions();
  options.max_body_bytes = 1 << 20;
  auto server = HttpServer::Start(options, EchoBody);
  ASSERT_TRUE(server.ok()) << server.status();
  HttpConnection connection((*server)->port());
  const std::string body = Text(50000);
  for (ContentCoding coding : {ContentCoding::kGzip, ContentCoding::kDeflate}) {
    const std::string name(ContentCodingName(coding));
    HttpResult result =
        connection.Send("POST", "/", *EncodeContent(coding, body), {{"Content-Encoding", name}});
    EXPECT_EQ(result.status, 200) << name << ": " << result.body;
    EXPECT_TRUE(result.body == body) << name << ": the handler did not get the decoded body";
    EXPECT_EQ(result.headers["x-seen-encoding"], "") << name;
    EXPECT_EQ(result.headers["content-encoding"], "") << "not asked for";
  }

  HttpResult identity = connection.Send("POST", "/", body, {{"Content-Encoding", "identity"}});
  EXPECT_EQ(identity.status, 200);
  EXPECT_TRUE(identity.body == body) << "an identity body changed on its way";
  EXPECT_EQ(identity.headers["x-seen-encoding"], "");

  // Refused, each on the same kept-alive connection, which goes on serving.
  HttpResult brotli = connection.Send("POST", "/", body, {{"Content-Encoding", "br"}});
  EXPECT_EQ(brotli.status, 415);
  EXPECT_EQ(brotli.headers["accept-encoding"], "gzip, deflate");
  EXPECT_NE(brotli.body.find("Content-Encoding 'br' is not supported"), std::string::npos)
      << brotli.body;
  std::string corrupt = *EncodeContent(ContentCoding::kGzip, body);
  corrupt.resize(corrupt.size() / 2);
  HttpResult truncated = connection.Send("POST", "/", corrupt, {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(truncated.status, 400);
  EXPECT_NE(truncated.body.find("gzip body is truncated"), std::string::npos) << truncated.body;
  // 64 MiB of zeros in 64 KB: within the body limit as sent, far past it decoded.
  const std::string bomb = *EncodeContent(ContentCoding::kGzip, std::string(64 << 20, '\0'));
  ASSERT_LT(bomb.size(), static_cast<size_t>(options.max_body_bytes));
  HttpResult exploded = connection.Send("POST", "/", bomb, {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(exploded.status, 413);
  EXPECT_NE(exploded.body.find("decodes to more than 1048576 bytes"), std::string::npos)
      << exploded.body;
  EXPECT_EQ(connection.Send("POST", "/", "after", {}).body, "after");
}

TEST(HttpServerTest, CompressesResponsesForClientsThatAskForIt) {
  auto server = HttpServer::Start(LoopbackOptions(), EchoBody);
  ASSERT_TRUE(server.ok()) << server.status();
  HttpConnection connection((*server)->port());
  const std::string body = Text(20000);
  struct Case {
    const char* accept_encoding;
    const char* expected;  // Content-Encoding
  };
  for (const Case& c :
       {Case{"gzip", "gzip"}, Case{"gzip, deflate, br", "gzip"}, Case{"deflate", "deflate"},
        Case{"gzip;q=0.2, deflate", "deflate"}, Case{"br", ""}, Case{"", ""}}) {
    SCOPED_TRACE(c.accept_encoding);
    HttpResult result =
        connection.Send("POST", "/", body, {{"Accept-Encoding", c.accept_encoding}});
    ASSERT_EQ(result.status, 200);
    EXPECT_EQ(result.headers["content-encoding"], c.expected);
    EXPECT_EQ(result.headers["vary"], "Accept-Encoding");
    std::optional<ContentCoding> coding;
    if (std::string(c.expected) == "gzip") coding = ContentCoding::kGzip;
    if (std::string(c.expected) == "deflate") coding = ContentCoding::kDeflate;
    if (!coding.has_value()) {
      EXPECT_TRUE(result.body == body);
      continue;
    }
    EXPECT_LT(result.body.size(), body.size() / 2);
    absl::StatusOr<std::string> decoded = DecodeContent(*coding, result.body, body.size());
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_TRUE(*decoded == body);
  }
  // A short response goes as it is.
  HttpResult small = connection.Send("POST", "/", "short", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(small.body, "short");
  EXPECT_EQ(small.headers["content-encoding"], "");
}

TEST(HttpServerTest, StopWaitsForResponsesInFlight) {
  std::atomic<int> handled{0};
  auto server = HttpServer::Start(LoopbackOptions(), EchoLater(std::chrono::milliseconds(300),
                                                                &handled));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  std::vector<std::future<HttpResult>> in_flight;
  for (int i = 0; i < 8; ++i) {
    in_flight.push_back(std::async(std::launch::async, [port] {
      return HttpCall(port, "GET", "/slow");
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // all 8 are being handled
  (*server)->Stop();
  for (auto& request : in_flight) EXPECT_EQ(request.get().status, 200);
  EXPECT_EQ(handled.load(), 8);
  EXPECT_EQ(HttpCall(port, "GET", "/after").status, 0);  // the listener is closed
}

}  // namespace
}  // namespace convd
