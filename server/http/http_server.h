// An HTTP/1.1 server on Boost.Beast: asynchronous (a few I/O threads serve
// every connection; nothing blocks on a slow client or on an inference),
// keep-alive, a body size limit, header/body read timeouts and an idle
// timeout. It knows nothing of KServe: every request goes to a handler that
// answers through a callback, possibly later and from another thread.
// Content codings are its business too (content_coding.h): a gzip or
// deflate body reaches the handler decoded, without its Content-Encoding,
// and a response of 1 KiB or more is compressed when the request's
// Accept-Encoding prefers it.
//
//   HttpServer::Options options;
//   options.port = 8000;
//   ASSIGN_OR_RETURN(auto server, HttpServer::Start(options, handler));
//   ...
//   server->Stop();  // closes the listener and every connection
//
// Thread safety: Start/Stop from one thread; the handler is called from
// the I/O threads, concurrently for different connections.
#ifndef CONVD_SERVER_HTTP_HTTP_SERVER_H_
#define CONVD_SERVER_HTTP_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace convd {

struct HttpRequest {
  using TimePoint = std::chrono::steady_clock::time_point;
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string body;
  // Header lookup (case-insensitive name); empty when absent.
  std::function<std::string(const std::string& name)> header;
  // When the header had been read, and when the body had been read and
  // decoded (for traces).
  TimePoint header_read;
  TimePoint body_read;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
  // Called, if set, once the response has been written (or its write has
  // failed): from when it was handed to the server, compressed and sent.
  std::function<void(HttpRequest::TimePoint write_start, HttpRequest::TimePoint write_end)>
      on_written;
};

// Called once per request; must call `respond` exactly once (from any
// thread, at any time while the server runs).
using HttpHandler =
    std::function<void(HttpRequest request, std::function<void(HttpResponse)> respond)>;

class HttpServer {
 public:
  struct Options {
    std::string address = "0.0.0.0";
    int port = 8000;  // 0: an ephemeral port (see port())
    int io_threads = 2;
    // Larger bodies get 413 before they are read; a compressed body gets
    // it as soon as it decodes past this.
    int64_t max_body_bytes = 256 << 20;
    // A request's header and body must arrive within this time (408 after).
    std::chrono::seconds read_timeout{60};
    // A kept-alive connection with no request for this long is closed.
    std::chrono::seconds idle_timeout{120};
    // Stop() waits this long for responses still being computed.
    std::chrono::seconds drain_timeout{60};
    // Called on an I/O thread once a request's headers are read, before its
    // body (`head` has no body; its header lookup is valid during the call
    // only). A response returned answers the request at once, its body
    // unread and the connection closed after, so a client refused (403 for
    // a restricted API) cannot make the server read a large body. Null:
    // every request is read whole.
    std::function<std::optional<HttpResponse>(const HttpRequest& head)> screen;
  };

  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const Options& options,
                                                           HttpHandler handler);
  ~HttpServer();  // Stop()

  int port() const;
  // Stops accepting, waits (drain_timeout at most) for every request handed
  // to the handler to be answered and written, closes every connection and
  // joins the I/O threads. Idempotent.
  void Stop();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_HTTP_SERVER_H_
