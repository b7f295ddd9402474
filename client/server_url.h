// Where a client finds convd: "[grpc://|http://]host[:port]". Without a
// scheme the protocol is gRPC; without a port it is the protocol's default
// (gRPC 8001, HTTP 8000), as `make serve` and the images listen.
#ifndef CONVD_CLIENT_SERVER_URL_H_
#define CONVD_CLIENT_SERVER_URL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace convd::client {

enum class Protocol { kGrpc, kHttp };

inline constexpr int kDefaultGrpcPort = 8001;
inline constexpr int kDefaultHttpPort = 8000;

struct ServerUrl {
  Protocol protocol = Protocol::kGrpc;
  std::string host = "localhost";
  int port = kDefaultGrpcPort;

  // "grpc://localhost:8001"
  std::string ToString() const;
  // host:port as gRPC takes it ("[::1]:8001" for IPv6 literals).
  std::string Authority() const;
  // localhost, 127.0.0.0/8 or ::1: the only targets convload loads by default.
  bool IsLoopback() const;
};

absl::StatusOr<ServerUrl> ParseServerUrl(std::string_view url);

const char* ProtocolName(Protocol protocol);  // "grpc" or "http"

}  // namespace convd::client

#endif  // CONVD_CLIENT_SERVER_URL_H_
