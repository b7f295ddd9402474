#include "server/http/http_server.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "server/http/content_coding.h"
#include "server/http/json_util.h"
#include "server/log.h"

namespace convd {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr uint32_t kHeaderLimitBytes = 64 << 10;
// Beast reads as much as the session's buffer has room for, at least 512
// bytes and at most 64 KiB a read. A buffer left to grow on its own stays
// at a few KiB, so a 600 KB tensor took ~150 reads and 4-7 ms on loopback
// (gRPC: 0.5 ms); bodies are read with room for up to this much a read.
constexpr size_t kBodyReadBytes = 64 << 10;
// Responses shorter than this go uncompressed whatever the client
// accepts: a few hundred bytes of JSON gain nothing worth zlib's set-up
// (a quarter of a megabyte of state).
constexpr size_t kMinCompressedBytes = 1 << 10;

absl::string_view ToAbsl(beast::string_view text) { return {text.data(), text.size()}; }

}  // namespace

class Session;

// What sessions and respond callbacks share with the server. The registry
// owns the sessions; respond callbacks hold weak references and post only
// while the server runs, so no session outlives the io_context.
struct SessionRegistry {
  std::mutex mu;
  bool stopped = false;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions;
  std::atomic<int> responses_pending{0};  // handed to the handler, not answered
  std::atomic<int> writes_pending{0};     // answered, not yet written
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServer::Options& options, const HttpHandler& handler,
          std::shared_ptr<SessionRegistry> registry)
      : stream_(std::move(socket)),
        options_(options),
        handler_(handler),
        registry_(std::move(registry)) {}

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void ReadHeader() {
    // Headers go through a buffer that grows only as it must: Beast checks
    // header_limit against what one read leaves unparsed, so room for many
    // whole fields at once would let a header past the limit.
    buffer_.shrink_to_fit();
    response_coding_ = ContentCoding::kIdentity;
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    parser_->body_limit(static_cast<uint64_t>(options_.max_body_bytes));
    stream_.expires_after(first_request_ ? options_.read_timeout : options_.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code error, size_t) {
                              self->OnHeader(error);
                            });
  }

  void OnHeader(beast::error_code error) {
    first_request_ = false;
    if (error) return OnReadError(error);
    header_read_ = std::chrono::steady_clock::now();
    stream_.expires_after(options_.read_timeout);
    const auto& request = parser_->get();
    if (options_.screen) {
      HttpRequest head;
      head.method = std::string(request.method_string());
      head.target = std::string(request.target());
      head.header = [&request](const std::string& name) { return std::string(request[name]); };
      head.header_read = header_read_;
      if (std::optional<HttpResponse> early = options_.screen(head); early.has_value()) {
        version_ = request.version();
        return Reply(*std::move(early), /*keep_alive=*/false);  // the body stays unread
      }
    }
    if (beast::iequals(request[http::field::expect], "100-continue")) {
      // curl waits for this before sending a large body.
      auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                        request.version());
      http::async_write(stream_, *interim,
                        [self = shared_from_this(), interim](beast::error_code e, size_t) {
                          if (e) return self->Unregister();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (const auto length = parser_->content_length(); length.has_value()) {
      buffer_.reserve(static_cast<size_t>(std::min<uint64_t>(*length, kBodyReadBytes)));
    }
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, size_t) {
                       if (error) return self->OnReadError(error);
                       self->Dispatch();
                     });
  }

  void OnReadError(beast::error_code error) {
    if (error == http::error::body_limit) {
      return Reply(Error(413, absl::StrCat("request body exceeds ", options_.max_body_bytes,
                                           " bytes (--http-max-body-bytes)")),
                   /*keep_alive=*/false);
    }
    if (error == http::error::header_limit) {
      return Reply(Error(431, "request header too large"), false);
    }
    if (error == beast::error::timeout && parser_->got_some()) {
      return Reply(Error(408, "request not received in time"), false);
    }
    if (error.category() == http::make_error_code(http::error::end_of_stream).category() &&
        error != http::error::end_of_stream && error != http::error::partial_message) {
      return Reply(Error(400, absl::StrCat("malformed HTTP request: ", error.message())), false);
    }
    Unregister();  // closed by the client, idle timeout, or reset
  }

  static HttpResponse Error(int status, const std::string& message) {
    HttpResponse response;
    response.status = status;
    response.body = ErrorJson(message);
    return response;
  }

  // Decodes `body` in place from the request's Content-Encoding (an
  // identity body stays as it is, uncopied); else the error response: 415
  // for a coding convd does not read (naming those it does, in
  // Accept-Encoding too, as RFC 7694 has it), 413 for a body that decodes
  // past the body limit, 400 for corrupt data.
  std::optional<HttpResponse> DecodeBody(absl::string_view encoding, std::string& body) {
    const absl::StatusOr<ContentCoding> coding = ParseContentEncoding(encoding);
    absl::Status status = coding.status();
    if (coding.ok() && *coding != ContentCoding::kIdentity) {
      absl::StatusOr<std::string> decoded = DecodeContent(*coding, body, options_.max_body_bytes);
      if (decoded.ok()) body = *std::move(decoded);
      status = decoded.status();
    }
    if (status.ok()) return std::nullopt;
    HttpResponse error = Error(status.code() == absl::StatusCode::kUnimplemented       ? 415
                               : status.code() == absl::StatusCode::kResourceExhausted ? 413
                                                                                       : 400,
                               std::string(status.message()));
    if (error.status == 415) error.headers.emplace_back("Accept-Encoding", "gzip, deflate");
    return error;
  }

  void Dispatch() {
    http::request<http::string_body> request = parser_->release();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    response_coding_ = PreferredResponseCoding(ToAbsl(request[http::field::accept_encoding]));
    HttpRequest converted;
    converted.method = std::string(request.method_string());
    converted.target = std::string(request.target());
    converted.body = std::move(request.body());
    // The handler sees a compressed body decoded, and no Content-Encoding.
    if (const auto encoding = request[http::field::content_encoding]; !encoding.empty()) {
      std::optional<HttpResponse> error = DecodeBody(ToAbsl(encoding), converted.body);
      if (error.has_value()) return Reply(*std::move(error), keep_alive_);
      request.erase(http::field::content_encoding);
    }
    converted.header_read = header_read_;
    converted.body_read = std::chrono::steady_clock::now();
    auto headers = std::make_shared<http::fields>(std::move(request.base()));
    converted.header = [headers](const std::string& name) {
      return std::string((*headers)[name]);
    };
    registry_->responses_pending.fetch_add(1);
    std::weak_ptr<Session> weak = weak_from_this();
    std::shared_ptr<SessionRegistry> registry = registry_;
    handler_(std::move(converted), [weak, registry](HttpResponse response) {
      std::lock_guard<std::mutex> lock(registry->mu);
      registry->responses_pending.fetch_sub(1);
      if (registry->stopped) return;
      std::shared_ptr<Session> self = weak.lock();
      if (self == nullptr) return;
      registry->writes_pending.fetch_add(1);
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable {
                  self->Reply(std::move(response), self->keep_alive_, /*counted=*/true);
                });
    });
  }

  // `counted`: the write is in SessionRegistry::writes_pending.
  void Reply(HttpResponse response, bool keep_alive, bool counted = false) {
    const auto write_start = std::chrono::steady_clock::now();
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_ ? version_ : 11);
    message->set(http::field::server, "convd");
    message->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) message->set(name, value);
    if (response.body.size() >= kMinCompressedBytes) {
      // Caches must not hand one client's coding to another.
      message->set(http::field::vary, "Accept-Encoding");
      if (response_coding_ != ContentCoding::kIdentity &&
          (*message)[http::field::content_encoding].empty()) {
        absl::StatusOr<std::string> encoded = EncodeContent(response_coding_, response.body);
        // Identity is acceptable too, and the better choice where
        // compressing did not shrink the body.
        if (encoded.ok() && encoded->size() < response.body.size()) {
          response.body = *std::move(encoded);
          message->set(http::field::content_encoding,
                       std::string(ContentCodingName(response_coding_)));
        }
      }
    }
    message->body() = std::move(response.body);
    message->keep_alive(keep_alive);
    message->prepare_payload();
    stream_.expires_after(options_.read_timeout);
    http::async_write(
        stream_, *message,
        [self = shared_from_this(), message, counted, write_start,
         on_written = std::move(response.on_written)](beast::error_code error, size_t) {
          if (on_written) on_written(write_start, std::chrono::steady_clock::now());
          if (counted) self->registry_->writes_pending.fetch_sub(1);
          if (error || !message->keep_alive()) {
            self->Close();
            return self->Unregister();
          }
          self->ReadHeader();
        });
  }

  void Unregister() {
    std::lock_guard<std::mutex> lock(registry_->mu);
    registry_->sessions.erase(this);  // the caller's reference keeps it alive
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpServer::Options& options_;
  const HttpHandler& handler_;
  std::shared_ptr<SessionRegistry> registry_;
  bool first_request_ = true;
  std::chrono::steady_clock::time_point header_read_;  // of the request being read
  bool keep_alive_ = true;
  unsigned version_ = 11;
  // The coding of the response to the request being served (from its
  // Accept-Encoding).
  ContentCoding response_coding_ = ContentCoding::kIdentity;
};

class HttpServer::Impl {
 public:
  Impl(const Options& options, HttpHandler handler)
      : options_(options), handler_(std::move(handler)),
        registry_(std::make_shared<SessionRegistry>()),
        // Its own strand: accept handlers and the close posted by Stop()
        // never run at once (ThreadSanitizer found the race).
        acceptor_(net::make_strand(io_)) {}

  absl::Status Listen() {
    beast::error_code error;
    const net::ip::address address = net::ip::make_address(options_.address, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat("--http-address '", options_.address, "': ", error.message()));
    }
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(net::socket_base::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(net::socket_base::max_listen_connections, error);
    if (error) {
      return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", options_.address,
                                                 ":", options_.port, ": ", error.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    // A session waiting for its handler has no I/O pending; without this
    // guard the I/O threads would exit once the listener closes in Stop(),
    // and the responses still to come could never be written.
    work_.emplace(net::make_work_guard(io_));
    Accept();
    for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
    return absl::OkStatus();
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    // Responses still being computed go out first; connections keep being
    // served meanwhile (health probes see readiness false).
    const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
    while ((registry_->responses_pending.load() > 0 || registry_->writes_pending.load() > 0) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::unordered_map<Session*, std::shared_ptr<Session>> sessions;
    {
      std::lock_guard<std::mutex> lock(registry_->mu);
      registry_->stopped = true;
      sessions.swap(registry_->sessions);
    }
    for (auto& [raw, session] : sessions) {
      net::post(io_, [session] { session->Close(); });
    }
    work_.reset();
    io_.stop();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

  int port() const { return port_; }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code error,
                                                         tcp::socket socket) {
      if (error) {
        if (acceptor_.is_open()) Accept();
        return;
      }
      auto session = std::make_shared<Session>(std::move(socket), options_, handler_, registry_);
      {
        std::lock_guard<std::mutex> lock(registry_->mu);
        if (registry_->stopped) return;
        registry_->sessions.emplace(session.get(), session);
      }
      session->Start();
      Accept();
    });
  }

  const Options options_;
  const HttpHandler handler_;
  std::shared_ptr<SessionRegistry> registry_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  bool stopped_ = false;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const Options& options,
                                                              HttpHandler handler) {
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  if (absl::Status status = impl->Listen(); !status.ok()) return status;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }
int HttpServer::port() const { return impl_->port(); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace convd
