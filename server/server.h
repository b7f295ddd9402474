// convd's server: the model repository, the inference service and the gRPC
// and HTTP front ends, started and drained as one.
//
//   ServerOptions options;
//   options.model_repository = "models";
//   ASSIGN_OR_RETURN(std::unique_ptr<Server> server, Server::Start(options));
//   ...                      // serve until a signal
//   server->Shutdown();      // drain: no request is lost
#ifndef CONVD_SERVER_SERVER_H_
#define CONVD_SERVER_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cpu/thread_pool.h"
#include "server/core/api_restrictions.h"
#include "server/core/inference_service.h"
#include "server/core/tracer.h"
#include "server/grpc/grpc_connection_options.h"
#include "server/grpc/grpc_tls.h"
#include "server/repository/repository.h"
#include "server/repository/repository_poller.h"

namespace grpc {
class Server;
}

namespace convd {

class GrpcInferenceService;
class HttpInferenceService;
class HttpServer;

struct ServerOptions {
  std::string model_repository;         // required
  std::string grpc_address = "0.0.0.0";  // bind address
  int grpc_port = 8001;                  // 0: an ephemeral port (see grpc_port())
  // Largest request or response; a batch of 224x224 images is ~0.6 MB/image.
  int64_t grpc_max_message_bytes = 256 << 20;
  std::string http_address = "0.0.0.0";
  int http_port = 8000;  // 0: ephemeral (see http_port()); -1: no HTTP server
  int http_threads = 2;  // I/O threads; inference runs on the compute threads
  int64_t http_max_body_bytes = 256 << 20;
  // Prometheus /metrics on http_address; 0: ephemeral; -1: off.
  int metrics_port = 8002;
  // /metrics also under Triton's names (server/metrics/triton_metrics.h).
  bool triton_metrics = false;
  // How the served models may change after start (--model-control).
  ModelControl model_control = ModelControl::kNone;
  // With kPoll: how often the repository's files are compared
  // (--repository-poll-secs); must be positive.
  std::chrono::milliseconds repository_poll_interval{15000};
  // With kExplicit only: the models loaded at start (--load-model, each in
  // the repository; "*": all). Empty: all, in every mode.
  std::vector<std::string> startup_models;
  // Readiness requires every model to be ready (--strict-readiness).
  bool strict_readiness = true;
  // Start() fails when a model fails to load at start (--exit-on-error;
  // Triton's default is true, convd's serves the models that loaded).
  bool exit_on_error = false;
  // Configs are completed from the models' files, and a model needs no
  // config.pbtxt (engine/model_autocomplete.h); false:
  // --disable-auto-complete-config.
  bool auto_complete_config = true;
  // --allow-client-shm: clients may register system shared memory and
  // send and receive tensors through it.
  bool allow_client_shm = false;
  // "auto", "cpu" or "cuda" (server.cc ChooseDevice).
  std::string device = "auto";
  // GPU autotuning decisions persist in this file (empty: per process).
  std::string autotune_cache;
  int compute_threads = 0;  // 0: one per hardware thread
  // How long an idle compute thread polls before it sleeps (ThreadPool).
  std::chrono::microseconds compute_spin = ThreadPool::kDefaultSpin;
  // How long Shutdown() waits for in-flight requests before cancelling them.
  std::chrono::seconds drain_timeout{60};
  // How long one forward pass on the GPU may run before the device counts
  // as hung: while one does, the GPU's models are unavailable and the
  // server is not live. Zero: no limit.
  std::chrono::milliseconds gpu_run_timeout{30000};
  // The trace extension (server/core/tracer.h): where traces go (empty:
  // nowhere, and tracing stays off) and the global settings at start.
  std::string trace_file;
  TraceSettings trace;
  // The response cache's budget in bytes (--cache-config local,size=N),
  // for models whose config enables it; 0: no cache.
  int64_t response_cache_bytes = 0;
  // Restricted APIs (server/core/api_restrictions.h): endpoint groups that
  // answer only requests with a header set at start, per protocol.
  ApiRestrictions grpc_restrictions;
  ApiRestrictions http_restrictions;
  // TLS on the gRPC port (server/grpc/grpc_tls.h); off by default.
  GrpcTlsOptions grpc_tls;
  // Keepalive and connection age on the gRPC port
  // (server/grpc/grpc_connection_options.h); Triton's defaults.
  GrpcConnectionOptions grpc_connections;
};

class Server {
 public:
  // Loads every model (failures are logged and leave those models
  // UNAVAILABLE) and starts listening. Fails if the repository is missing
  // or the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();  // shuts down if still running

  int grpc_port() const { return grpc_port_; }
  int http_port() const;     // -1 when HTTP is off
  int metrics_port() const;  // -1 when metrics are off
  InferenceService& service() { return *service_; }
  ModelRepository& repository() { return *repository_; }

  // Readiness goes false, new inferences get UNAVAILABLE, every queued and
  // running request completes, then the listener closes. Idempotent.
  void Shutdown();

 private:
  Server() = default;

  ServerOptions options_;
  std::unique_ptr<ThreadPool> thread_pool_;
  std::unique_ptr<ModelRepository> repository_;
  std::unique_ptr<InferenceService> service_;
  std::unique_ptr<GrpcInferenceService> grpc_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<HttpInferenceService> http_service_;
  std::unique_ptr<HttpServer> http_server_;
  std::unique_ptr<HttpServer> metrics_server_;
  std::unique_ptr<RepositoryPoller> poller_;  // with ModelControl::kPoll
  int grpc_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace convd

#endif  // CONVD_SERVER_SERVER_H_
