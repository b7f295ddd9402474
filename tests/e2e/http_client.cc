#include "tests/e2e/http_client.h"

#include "absl/strings/ascii.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace convd::e2e {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpConnection::State {
  net::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  beast::error_code connect_error;
};

HttpConnection::HttpConnection(int port) : state_(std::make_unique<State>()) {
  state_->stream.connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)),
      state_->connect_error);
}

HttpConnection::~HttpConnection() {
  beast::error_code ignored;
  state_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

HttpResult HttpConnection::Send(const std::string& method, const std::string& target,
                                const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpResult result;
  if (state_->connect_error) {
    result.body = state_->connect_error.message();
    return result;
  }
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  beast::error_code error;
  http::write(state_->stream, request, error);
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 30);
  if (!error) http::read(state_->stream, state_->buffer, parser, error);
  if (error) {
    result.body = error.message();
    return result;
  }
  const auto& response = parser.get();
  result.status = static_cast<int>(response.result_int());
  result.body = response.body();
  for (const auto& field : response) {
    result.headers[absl::AsciiStrToLower(std::string(field.name_string()))] =
        std::string(field.value());
  }
  return result;
}

HttpResult HttpCall(int port, const std::string& method, const std::string& target,
                    const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpConnection connection(port);
  return connection.Send(method, target, body, headers);
}

}  // namespace convd::e2e
