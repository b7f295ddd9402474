#include "client/connection_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/file_util.h"
#include "server/cli_flags.h"

ABSL_FLAG(bool, ssl, false, "gRPC over TLS (convd --grpc-use-ssl).");
ABSL_FLAG(std::string, root_cert, "",
          "--ssl: PEM file of the CAs to trust (default: the system's).");
ABSL_FLAG(std::string, client_cert, "",
          "--ssl: PEM file of the certificate to present (convd --grpc-use-ssl-mutual).");
ABSL_FLAG(std::string, client_key, "", "--ssl: PEM file of --client-cert's private key.");
ABSL_FLAG(std::string, header, "",
          "NAME=VALUE sent with every call; may be repeated. A restricted API's key: over gRPC "
          "NAME is triton-grpc-protocol-<key>, over HTTP <key>.");

namespace convd::client {
namespace {

absl::Status ReadInto(const char* flag, const std::string& path, std::string& into) {
  if (path.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", text.status().message()));
  }
  into = *std::move(text);
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyConnectionFlags(const ServerUrl& url, ClientOptions& options) {
  ClientOptions::Tls& tls = options.tls;
  tls.enabled = absl::GetFlag(FLAGS_ssl);
  const std::string root = absl::GetFlag(FLAGS_root_cert);
  const std::string cert = absl::GetFlag(FLAGS_client_cert);
  const std::string key = absl::GetFlag(FLAGS_client_key);
  if (!tls.enabled && !(root.empty() && cert.empty() && key.empty())) {
    return absl::InvalidArgumentError("--root-cert, --client-cert and --client-key need --ssl");
  }
  if (tls.enabled && url.protocol != Protocol::kGrpc) {
    return absl::InvalidArgumentError(
        "--ssl is for gRPC urls: convd's HTTP port is clear text (put a TLS proxy before it)");
  }
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError("--client-cert and --client-key go together");
  }
  if (absl::Status s = ReadInto("--root-cert", root, tls.root_certs); !s.ok()) return s;
  if (absl::Status s = ReadInto("--client-cert", cert, tls.cert_chain); !s.ok()) return s;
  if (absl::Status s = ReadInto("--client-key", key, tls.private_key); !s.ok()) return s;

  for (const std::string& header : RepeatedFlagValues(absl::GetFlag(FLAGS_header))) {
    const size_t equals = header.find('=');
    if (equals == std::string::npos || equals == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--header '", header, "': the form is NAME=VALUE"));
    }
    std::string name = header.substr(0, equals);
    if (url.protocol == Protocol::kGrpc) {
      // gRPC metadata names are lowercase; say so rather than fail each call.
      if (name != absl::AsciiStrToLower(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--header '", name, "': gRPC metadata names are lowercase"));
      }
    }
    options.headers.emplace_back(std::move(name), header.substr(equals + 1));
  }
  return absl::OkStatus();
}

}  // namespace convd::client
