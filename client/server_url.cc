#include "client/server_url.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace convd::client {

const char* ProtocolName(Protocol protocol) {
  return protocol == Protocol::kGrpc ? "grpc" : "http";
}

std::string ServerUrl::Authority() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return ipv6 ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
}

std::string ServerUrl::ToString() const {
  return absl::StrCat(ProtocolName(protocol), "://", Authority());
}

bool ServerUrl::IsLoopback() const {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::StatusOr<ServerUrl> ParseServerUrl(std::string_view text) {
  const std::string original(text);
  absl::string_view url(original);
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad server URL '", original, "': ", why,
        " (expected [grpc://|http://]host[:port], e.g. localhost:8001 or http://localhost:8000)"));
  };
  ServerUrl result;
  if (absl::ConsumePrefix(&url, "http://")) {
    result.protocol = Protocol::kHttp;
    result.port = kDefaultHttpPort;
  } else if (absl::ConsumePrefix(&url, "grpc://")) {
    result.protocol = Protocol::kGrpc;
  } else if (url.find("://") != absl::string_view::npos) {
    return invalid("unknown scheme");
  }
  absl::ConsumeSuffix(&url, "/");
  if (url.find('/') != absl::string_view::npos) return invalid("a path is not allowed");
  absl::string_view port_text;
  if (absl::StartsWith(url, "[")) {  // [IPv6]:port
    const size_t close = url.find(']');
    if (close == absl::string_view::npos) return invalid("unclosed '['");
    result.host = std::string(url.substr(1, close - 1));
    absl::string_view rest = url.substr(close + 1);
    if (!rest.empty()) {
      if (!absl::ConsumePrefix(&rest, ":")) return invalid("expected ':' after ']'");
      port_text = rest;
      if (port_text.empty()) return invalid("empty port");
    }
  } else {
    const size_t colon = url.rfind(':');
    result.host = std::string(url.substr(0, colon));
    if (colon != absl::string_view::npos) {
      port_text = url.substr(colon + 1);
      if (port_text.empty()) return invalid("empty port");
    }
  }
  if (result.host.empty()) return invalid("no host");
  if (!port_text.empty()) {
    int port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return invalid("the port must be a number from 1 to 65535");
    }
    result.port = port;
  }
  return result;
}

}  // namespace convd::client
