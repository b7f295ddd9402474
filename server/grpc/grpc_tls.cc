#include "server/grpc/grpc_tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/file_util.h"
#include "grpcpp/security/server_credentials.h"

namespace convd {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using UniqueBio = std::unique_ptr<BIO, BioDeleter>;
using UniqueX509 = std::unique_ptr<X509, X509Deleter>;
using UniqueKey = std::unique_ptr<EVP_PKEY, KeyDeleter>;

UniqueBio MemoryBio(const std::string& pem) {
  return UniqueBio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The file's contents, or INVALID_ARGUMENT naming the flag and the file.
absl::StatusOr<std::string> ReadPem(const char* flag, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " is required"));
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " '", path, "': ", pem.status().message()));
  }
  return pem;
}

// Every certificate in a PEM file, in order; INVALID_ARGUMENT when there
// is none, or one is malformed or outside its validity period.
absl::StatusOr<std::vector<UniqueX509>> ReadCertificates(const char* flag, const std::string& path,
                                                         const std::string& pem) {
  std::vector<UniqueX509> certs;
  UniqueBio bio = MemoryBio(pem);
  for (;;) {
    UniqueX509 cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    certs.push_back(std::move(cert));
  }
  ERR_clear_error();  // the read that ended the loop
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " '", path, "' holds no PEM certificate"));
  }
  for (const UniqueX509& cert : certs) {
    if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " '", path, "': a certificate is not valid yet"));
    }
    if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " '", path, "': a certificate has expired"));
    }
  }
  return certs;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const GrpcTlsOptions& options) {
  if (!options.use_ssl && !options.mutual) {
    for (const auto& [flag, path] : {std::pair("--grpc-server-cert", &options.server_cert),
                                     std::pair("--grpc-server-key", &options.server_key),
                                     std::pair("--grpc-root-cert", &options.root_cert)}) {
      if (!path->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " is given but TLS is off: add --grpc-use-ssl"));
      }
    }
    return grpc::InsecureServerCredentials();
  }
  absl::StatusOr<std::string> cert_pem = ReadPem("--grpc-server-cert", options.server_cert);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadPem("--grpc-server-key", options.server_key);
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::vector<UniqueX509>> chain =
      ReadCertificates("--grpc-server-cert", options.server_cert, *cert_pem);
  if (!chain.ok()) return chain.status();
  UniqueBio key_bio = MemoryBio(*key_pem);
  UniqueKey key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--grpc-server-key '", options.server_key,
                                                   "' holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(chain->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "--grpc-server-key '", options.server_key,
        "' is not the key of the certificate in --grpc-server-cert '", options.server_cert, "'"));
  }

  grpc::SslServerCredentialsOptions ssl(
      options.mutual ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                     : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_key_cert_pairs.push_back({*key_pem, *cert_pem});
  if (options.mutual) {
    absl::StatusOr<std::string> root_pem = ReadPem("--grpc-root-cert", options.root_cert);
    if (!root_pem.ok()) return root_pem.status();
    absl::StatusOr<std::vector<UniqueX509>> roots =
        ReadCertificates("--grpc-root-cert", options.root_cert, *root_pem);
    if (!roots.ok()) return roots.status();
    ssl.pem_root_certs = *root_pem;
  } else if (!options.root_cert.empty()) {
    return absl::InvalidArgumentError(
        "--grpc-root-cert verifies client certificates, which only --grpc-use-ssl-mutual asks "
        "for");
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace convd
