#include "client/http_connection.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace convd::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpConnection::State {
  net::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  bool open = false;
};

HttpConnection::HttpConnection(std::string host, int port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout), state_(std::make_unique<State>()) {}

HttpConnection::HttpConnection(int port) : HttpConnection("127.0.0.1", port) {}

HttpConnection::~HttpConnection() {
  beast::error_code ignored;
  state_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

HttpResult HttpConnection::Send(const std::string& method, const std::string& target,
                                const std::string& body, const HttpHeaders& headers) {
  HttpResult result;
  beast::error_code error;
  if (!state_->open) {
    tcp::resolver resolver(state_->io);
    const auto endpoints = resolver.resolve(host_, std::to_string(port_), error);
    if (!error) {
      state_->stream.expires_after(timeout_);
      state_->stream.connect(endpoints, error);
    }
    if (error) {
      result.body = absl::StrCat("cannot connect to ", host_, ":", port_, ": ", error.message());
      return result;
    }
    state_->buffer.clear();
    state_->open = true;
  }
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  request.set(http::field::host, host_);
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  state_->stream.expires_after(timeout_);
  http::write(state_->stream, request, error);
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 30);
  if (!error) http::read(state_->stream, state_->buffer, parser, error);
  if (error) {
    // The next Send starts over on a new connection.
    state_->open = false;
    beast::error_code ignored;
    state_->stream.socket().close(ignored);
    result.body = absl::StrCat("no response from ", host_, ":", port_, ": ", error.message());
    return result;
  }
  const auto& response = parser.get();
  result.status = static_cast<int>(response.result_int());
  result.body = response.body();
  for (const auto& field : response) {
    result.headers[absl::AsciiStrToLower(std::string(field.name_string()))] =
        std::string(field.value());
  }
  if (!response.keep_alive()) {
    state_->open = false;
    beast::error_code ignored;
    state_->stream.socket().close(ignored);
  }
  return result;
}

HttpResult HttpCall(int port, const std::string& method, const std::string& target,
                    const std::string& body, const HttpHeaders& headers) {
  HttpConnection connection(port);
  return connection.Send(method, target, body, headers);
}

}  // namespace convd::client
