// gRPC over TLS, with Triton's flags: --grpc-use-ssl serves with the
// certificate and key given; --grpc-use-ssl-mutual (which implies it) also
// requires every client to present a certificate signed by --grpc-root-cert.
//
// The files are read and checked at start, so a mistake stops convd with a
// message naming the file rather than failing every handshake later: PEM
// that parses, a key that belongs to the certificate, a certificate (and a
// root) within its validity period.
#ifndef CONVD_SERVER_GRPC_GRPC_TLS_H_
#define CONVD_SERVER_GRPC_GRPC_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace convd {

struct GrpcTlsOptions {
  bool use_ssl = false;
  bool mutual = false;      // clients must present a certificate (implies use_ssl)
  std::string server_cert;  // PEM: the server's certificate, then any intermediates
  std::string server_key;   // PEM: its private key
  std::string root_cert;    // PEM: the CAs that sign client certificates (mutual)
};

// The credentials the gRPC port listens with: insecure unless use_ssl or
// mutual. INVALID_ARGUMENT naming the flag or file: a file without
// use_ssl, a missing certificate, key or (mutual) root, unreadable or
// malformed PEM, a key that is not the certificate's, or a certificate
// outside its validity period.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const GrpcTlsOptions& options);

}  // namespace convd

#endif  // CONVD_SERVER_GRPC_GRPC_TLS_H_
