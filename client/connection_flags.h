// The connection flags convctl and convload share, defined once:
//   --ssl                 gRPC over TLS (convd --grpc-use-ssl)
//   --root-cert FILE      PEM CAs to trust (default: the system's)
//   --client-cert FILE    PEM certificate to present (--grpc-use-ssl-mutual)
//   --client-key FILE     its PEM private key
//   --header NAME=VALUE   sent with every call (may be repeated): a
//                         restricted API's key; over gRPC Triton's names
//                         are triton-grpc-protocol-<key>
#ifndef CONVD_CLIENT_CONNECTION_FLAGS_H_
#define CONVD_CLIENT_CONNECTION_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/client.h"
#include "client/server_url.h"

namespace convd::client {

// For ParseCommandLine's `repeatable`.
inline const std::vector<std::string> kRepeatableConnectionFlags = {"header"};

// Reads the flags into `options` for a server at `url`. INVALID_ARGUMENT
// naming the flag: TLS flags with an HTTP url (convd's HTTP port is clear
// text), a certificate without its key or the reverse, an unreadable file,
// a header without '=' or with a name gRPC cannot send.
absl::Status ApplyConnectionFlags(const ServerUrl& url, ClientOptions& options);

}  // namespace convd::client

#endif  // CONVD_CLIENT_CONNECTION_FLAGS_H_
