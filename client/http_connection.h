// A plain blocking HTTP/1.1 client (Boost.Beast) for convctl, convload and
// the end-to-end suites: one keep-alive connection per object, reopened on
// the next Send after the server closed it. Not thread-safe: one
// connection per thread.
#ifndef CONVD_CLIENT_HTTP_CONNECTION_H_
#define CONVD_CLIENT_HTTP_CONNECTION_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace convd::client {

struct HttpResult {
  int status = 0;  // 0: no response (connection refused, timeout, reset; see body)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpConnection {
 public:
  // Connects on the first Send. `timeout` bounds each whole exchange
  // (connect, write, read).
  HttpConnection(std::string host, int port,
                 std::chrono::milliseconds timeout = std::chrono::seconds(60));
  explicit HttpConnection(int port);  // 127.0.0.1:port
  ~HttpConnection();

  HttpResult Send(const std::string& method, const std::string& target,
                  const std::string& body = "", const HttpHeaders& headers = {});

 private:
  struct State;
  std::string host_;
  int port_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<State> state_;
};

// One request on a fresh connection to 127.0.0.1:port.
HttpResult HttpCall(int port, const std::string& method, const std::string& target,
                    const std::string& body = "", const HttpHeaders& headers = {});

}  // namespace convd::client

#endif  // CONVD_CLIENT_HTTP_CONNECTION_H_
