// A KServe v2 client for convd (and any v2 server) over gRPC or HTTP/REST,
// the same calls either way, returning the gRPC protocol's messages. What
// convctl and convload are built on.
//
//   ASSIGN_OR_RETURN(ServerUrl url, ParseServerUrl("http://localhost:8000"));
//   ASSIGN_OR_RETURN(std::unique_ptr<Client> client, CreateClient(url));
//   ASSIGN_OR_RETURN(inference::ModelInferResponse response, client->Infer(request));
//
// Errors are absl::Status with the server's code and message (HTTP status
// codes mapped back: 400 INVALID_ARGUMENT, 404 NOT_FOUND, 503 UNAVAILABLE,
// ...); a server that cannot be reached is UNAVAILABLE naming the address.
// Thread safety: a Client is used by one thread at a time (an HTTP client
// holds one keep-alive connection); make one per thread.
#ifndef CONVD_CLIENT_CLIENT_H_
#define CONVD_CLIENT_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/server_url.h"
#include "proto/inference.pb.h"

namespace convd::client {

struct ClientOptions {
  // Deadline of each call.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  // Largest gRPC message either way (a batch of AlexNet images is ~20 MiB).
  int max_message_bytes = 256 << 20;
  // gRPC only: Infer sends each request on one ModelStreamInfer stream that
  // the client keeps open (as perf_analyzer --streaming) instead of a call
  // per request. The stream's deadline is `timeout`; it is reopened when
  // half of that has passed, and after an error ends it. A request the
  // server fails comes back as UNKNOWN with the server's message (stream
  // answers carry no status code).
  bool streaming = false;
  // Sent with every call, as gRPC metadata or HTTP headers: a restricted
  // API's key (convd --grpc-restricted-protocol / --http-restricted-api;
  // over gRPC, Triton's names start with triton-grpc-protocol-). gRPC
  // metadata names are lowercase.
  std::vector<std::pair<std::string, std::string>> headers;
  // gRPC over TLS (convd --grpc-use-ssl). PEM text, not file names.
  struct Tls {
    bool enabled = false;
    std::string root_certs;   // the CAs to trust; empty: the system's
    std::string private_key;  // with cert_chain: the client's certificate,
    std::string cert_chain;   // for --grpc-use-ssl-mutual
  } tls;
};

class Client {
 public:
  virtual ~Client() = default;

  virtual absl::StatusOr<bool> ServerLive() = 0;
  virtual absl::StatusOr<bool> ServerReady() = 0;
  virtual absl::StatusOr<bool> ModelReady(const std::string& model,
                                          const std::string& version) = 0;
  virtual absl::StatusOr<inference::ServerMetadataResponse> ServerMetadata() = 0;
  virtual absl::StatusOr<inference::RepositoryIndexResponse> RepositoryIndex() = 0;
  virtual absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(
      const std::string& model, const std::string& version) = 0;
  virtual absl::StatusOr<inference::ModelConfig> ModelConfig(const std::string& model,
                                                             const std::string& version) = 0;
  // `model` empty: every model.
  virtual absl::StatusOr<inference::ModelStatisticsResponse> ModelStatistics(
      const std::string& model, const std::string& version) = 0;
  // Inputs go in raw_input_contents, or in shared memory named by their
  // parameters; outputs come back in raw_output_contents, one per output
  // (empty for one written to shared memory), whichever the protocol.
  virtual absl::StatusOr<inference::ModelInferResponse> Infer(
      const inference::ModelInferRequest& request) = 0;
  // `config_json` non-empty: the model config (protobuf JSON) to load the
  // model with in place of the repository's config.pbtxt (the load
  // parameter "config", as Triton takes it).
  virtual absl::Status LoadModel(const std::string& model, const std::string& config_json) = 0;
  virtual absl::Status UnloadModel(const std::string& model) = 0;
  // The system shared-memory extension: `key` names a POSIX shared-memory
  // object on the server's host. An empty name unregisters every region.
  virtual absl::Status RegisterSystemSharedMemory(const std::string& name, const std::string& key,
                                                  uint64_t offset, uint64_t byte_size) = 0;
  virtual absl::Status UnregisterSystemSharedMemory(const std::string& name) = 0;
};

std::unique_ptr<Client> CreateClient(const ServerUrl& url, const ClientOptions& options = {});

// The server-side compute time in a model's statistics, as the clients
// report it: input preparation + inference + output, in nanoseconds.
uint64_t ComputeNs(const inference::InferStatistics& stats);

}  // namespace convd::client

#endif  // CONVD_CLIENT_CLIENT_H_
