// A plain blocking HTTP/1.1 client for the end-to-end suites (Boost.Beast):
// one keep-alive connection per object, so a test can tell whether the
// server keeps connections open.
#ifndef CONVD_TESTS_E2E_HTTP_CLIENT_H_
#define CONVD_TESTS_E2E_HTTP_CLIENT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace convd::e2e {

struct HttpResult {
  int status = 0;  // 0: the connection failed (see body)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

class HttpConnection {
 public:
  explicit HttpConnection(int port);  // connects to 127.0.0.1:port
  ~HttpConnection();

  HttpResult Send(const std::string& method, const std::string& target,
                  const std::string& body = "",
                  const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One request on a fresh connection.
HttpResult HttpCall(int port, const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace convd::e2e

#endif  // CONVD_TESTS_E2E_HTTP_CLIENT_H_
