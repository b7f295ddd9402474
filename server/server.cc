#include "server/server.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/model_autocomplete.h"
#include "engine/model_config.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/core/gpu_backend.h"
#include "server/grpc/grpc_service.h"
#include "server/http/http_server.h"
#include "server/http/http_service.h"
#include "server/http/json_util.h"
#include "server/log.h"
#include "server/metrics/prometheus.h"

namespace convd {
namespace {

std::string HostPort(const std::string& address, int port) {
  const bool ipv6 = address.find(':') != std::string::npos && address.front() != '[';
  return ipv6 ? absl::StrCat("[", address, "]:", port) : absl::StrCat(address, ":", port);
}

// The GPU backend to serve on, or null for the CPU: auto takes the GPU
// when this build has a backend fit to be the default and a device is
// present.
absl::StatusOr<const GpuBackend*> ChooseDevice(const std::string& device) {
  const GpuBackend* gpu = GetGpuBackend();
  if (device == "cpu") return nullptr;
  if (device == "auto") {
    return gpu != nullptr && gpu->default_choice && gpu->available() ? gpu : nullptr;
  }
  if (device == "cuda") {
    if (gpu == nullptr) {
      return absl::UnimplementedError(
          "--device=cuda: this build has no GPU backend (built without nvcc); use "
          "--device=auto or cpu");
    }
    if (!gpu->available()) {
      return absl::UnavailableError(absl::StrCat("--device=cuda: ", gpu->description()));
    }
    return gpu;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--device must be auto, cpu or cuda; got '", device, "'"));
}

void LogRepository(const ModelRepository& repository) {
  for (const ModelRepository::IndexEntry& entry : repository.Index()) {
    const bool ready = entry.state == ModelRepository::State::kReady;
    Log(ready ? LogLevel::kInfo : LogLevel::kError,
        absl::StrCat("model ", entry.name, entry.version.empty() ? "" : " version ",
                     entry.version, ": ", ModelRepository::StateName(entry.state),
                     entry.reason.empty() ? "" : ": ", entry.reason));
  }
}

// The model control options agree with each other and the repository.
absl::Status ValidateModelControl(const ServerOptions& options) {
  if (options.model_control == ModelControl::kPoll &&
      options.repository_poll_interval <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("--repository-poll-secs must be at least 1");
  }
  if (options.startup_models.empty()) return absl::OkStatus();
  if (options.model_control != ModelControl::kExplicit) {
    return absl::InvalidArgumentError(
        "--load-model needs --model-control=explicit (in the other modes every model in the "
        "repository loads at start)");
  }
  for (const std::string& name : options.startup_models) {
    if (name == "*") continue;
    if (!ValidateModelName(name).ok() ||
        !IsModelDirectory((std::filesystem::path(options.model_repository) / name).string(),
                          options.auto_complete_config)) {
      return absl::NotFoundError(absl::StrCat("--load-model '", name, "': no such model in '",
                                              options.model_repository, "'"));
    }
  }
  return absl::OkStatus();
}

// How long connections stay open after the last gRPC call is answered at
// shutdown (Shutdown()).
constexpr std::chrono::milliseconds kGrpcLinger(300);

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  absl::StatusOr<std::unique_ptr<Tracer>> tracer =
      Tracer::Create(options.trace_file, options.trace);
  if (!tracer.ok()) return tracer.status();
  // Checked before any model loads, so a wrong file fails at once.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      GrpcServerCredentials(options.grpc_tls);
  if (!credentials.ok()) return credentials.status();
  if (absl::Status valid = ValidateGrpcConnectionOptions(options.grpc_connections); !valid.ok()) {
    return valid;
  }
  absl::StatusOr<const GpuBackend*> gpu = ChooseDevice(options.device);
  if (!gpu.ok()) return gpu.status();
  std::error_code error;
  if (!std::filesystem::is_directory(options.model_repository, error)) {
    return absl::NotFoundError(absl::StrCat("model repository '", options.model_repository,
                                            "' is not a directory"));
  }
  if (absl::Status valid = ValidateModelControl(options); !valid.ok()) return valid;
  std::unique_ptr<Server> server(new Server());
  server->options_ = options;
  const int threads = options.compute_threads > 0
                          ? options.compute_threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  server->thread_pool_ = std::make_unique<ThreadPool>(threads, options.compute_spin);
  // On the CPU by --device=auto, say why not the GPU: there is none, or
  // this build's kernels cannot run on it.
  const GpuBackend* backend = GetGpuBackend();
  const bool gpu_passed_over =
      *gpu == nullptr && options.device == "auto" && backend != nullptr && backend->default_choice;
  Log(LogLevel::kInfo,
      *gpu != nullptr
          ? absl::StrCat("serving on the GPU: ", (*gpu)->description())
          : absl::StrCat("serving on the CPU with ", threads, " compute threads",
                         gpu_passed_over ? absl::StrCat(" (", backend->description(), ")") : ""));

  RepositoryOptions repository_options;
  repository_options.root = options.model_repository;
  repository_options.thread_pool = server->thread_pool_.get();
  repository_options.load.thread_pool = server->thread_pool_.get();
  repository_options.gpu = *gpu;
  repository_options.auto_complete_config = options.auto_complete_config;
  if (*gpu != nullptr) {
    (*gpu)->set_autotune_cache(options.autotune_cache);
    if ((*gpu)->set_run_timeout) (*gpu)->set_run_timeout(options.gpu_run_timeout);
  }
  std::shared_ptr<ResponseCache> response_cache;
  if (options.response_cache_bytes > 0) {
    response_cache = std::make_shared<ResponseCache>(options.response_cache_bytes);
    Log(LogLevel::kInfo, absl::StrCat("response cache: ", options.response_cache_bytes,
                                      " bytes, for models with response_cache { enable: true }"));
    // An unloaded or replaced load's entries can never hit again.
    repository_options.on_destroyed = [response_cache](uint64_t load_id) {
      response_cache->EraseLoad(load_id);
    };
  }
  server->repository_ = std::make_unique<ModelRepository>(repository_options);
  const std::vector<std::string>& startup = options.startup_models;
  int failed = 0;
  if (startup.empty() || std::find(startup.begin(), startup.end(), "*") != startup.end()) {
    failed = server->repository_->LoadAll();
  } else {
    for (const std::string& name : startup) failed += server->repository_->Load(name).ok() ? 0 : 1;
  }
  LogRepository(*server->repository_);
  if (failed > 0 && options.exit_on_error) {
    std::string which;
    for (const ModelRepository::IndexEntry& entry : server->repository_->Index()) {
      if (entry.state == ModelRepository::State::kUnavailable && entry.reason != "not loaded") {
        absl::StrAppend(&which, which.empty() ? "" : "; ", entry.name, ": ", entry.reason);
      }
    }
    return absl::FailedPreconditionError(
        absl::StrCat("--exit-on-error: ", failed, " model(s) failed to load (", which, ")"));
  }

  InferenceService::Options service_options;
  service_options.model_control = options.model_control;
  service_options.strict_readiness = options.strict_readiness;
  service_options.allow_client_shm = options.allow_client_shm;
  service_options.tracer = *std::move(tracer);
  service_options.response_cache = response_cache;
  for (const std::shared_ptr<ServedModel>& model : server->repository_->AllServed()) {
    if (model->config().response_cache().enable() && service_options.response_cache == nullptr) {
      Log(LogLevel::kWarning,
          absl::StrCat(model->name(),
                       " enables the response cache, but convd has none: start it "
                       "with --cache-config local,size=BYTES"));
    }
  }
  server->service_ = std::make_unique<InferenceService>(server->repository_.get(), service_options);
  server->grpc_service_ =
      std::make_unique<GrpcInferenceService>(server->service_.get(), options.grpc_restrictions);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string address = HostPort(options.grpc_address, options.grpc_port);
  builder.AddListeningPort(address, *credentials, &server->grpc_port_);
  ApplyGrpcConnectionOptions(options.grpc_connections, builder);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.grpc_max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.grpc_max_message_bytes));
  builder.RegisterService(server->grpc_service_.get());
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || server->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", address));
  }
  server->grpc_server_->GetHealthCheckService()->SetServingStatus(true);
  const GrpcTlsOptions& tls = options.grpc_tls;
  Log(LogLevel::kInfo,
      absl::StrCat("gRPC listening on ", HostPort(options.grpc_address, server->grpc_port_),
                   tls.mutual    ? " (TLS; clients must present a certificate)"
                   : tls.use_ssl ? " (TLS)"
                                 : ""));

  if (options.http_port >= 0) {
    server->http_service_ =
        std::make_unique<HttpInferenceService>(server->service_.get(), options.http_restrictions);
    HttpServer::Options http;
    http.address = options.http_address;
    http.port = options.http_port;
    http.io_threads = options.http_threads;
    http.max_body_bytes = options.http_max_body_bytes;
    http.drain_timeout = options.drain_timeout;
    HttpInferenceService* handler = server->http_service_.get();
    http.screen = [handler](const HttpRequest& head) { return handler->Screen(head); };
    absl::StatusOr<std::unique_ptr<HttpServer>> http_server = HttpServer::Start(
        http, [handler](HttpRequest request, std::function<void(HttpResponse)> respond) {
          handler->Handle(std::move(request), std::move(respond));
        });
    if (!http_server.ok()) return http_server.status();
    server->http_server_ = *std::move(http_server);
    Log(LogLevel::kInfo, absl::StrCat("HTTP listening on ",
                                      HostPort(options.http_address, server->http_port())));
  }
  if (options.metrics_port >= 0) {
    HttpServer::Options metrics;
    metrics.address = options.http_address;
    metrics.port = options.metrics_port;
    metrics.io_threads = 1;
    metrics.max_body_bytes = 64 << 10;
    InferenceService* service = server->service_.get();
    const GpuBackend* gpu_in_use = *gpu;
    const bool triton_names = options.triton_metrics;
    absl::StatusOr<std::unique_ptr<HttpServer>> metrics_server = HttpServer::Start(
        metrics, [service, gpu_in_use, triton_names](HttpRequest request,
                                                     std::function<void(HttpResponse)> respond) {
          HttpResponse response;
          const std::string path = request.target.substr(0, request.target.find('?'));
          if (path != "/metrics") {
            response.status = 404;
            response.body = ErrorJson("no such endpoint; metrics are at /metrics");
          } else if (request.method != "GET") {
            response.status = 405;
            response.body = ErrorJson("use GET /metrics");
          } else {
            response.content_type = kPrometheusContentType;
            response.body = RenderPrometheusMetrics(*service, gpu_in_use, triton_names);
          }
          respond(std::move(response));
        });
    if (!metrics_server.ok()) return metrics_server.status();
    server->metrics_server_ = *std::move(metrics_server);
    Log(LogLevel::kInfo, absl::StrCat("metrics at http://",
                                      HostPort(options.http_address, server->metrics_port()),
                                      "/metrics"));
  }
  if (options.model_control == ModelControl::kPoll) {
    server->poller_ = std::make_unique<RepositoryPoller>(server->repository_.get(),
                                                         options.repository_poll_interval);
    Log(LogLevel::kInfo,
        absl::StrCat("following the model repository's files: compared every ",
                     absl::FormatDuration(absl::FromChrono(options.repository_poll_interval))));
  }
  return server;
}

Server::~Server() { Shutdown(); }

int Server::http_port() const { return http_server_ ? http_server_->port() : -1; }
int Server::metrics_port() const { return metrics_server_ ? metrics_server_->port() : -1; }

void Server::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  poller_.reset();  // no model loads or unloads from here on
  if (service_ == nullptr) return;  // Start() failed while loading models
  Log(LogLevel::kInfo, "draining: not ready, refusing new requests, finishing queued ones");
  service_->BeginDrain();
  if (grpc_server_ != nullptr) {
    grpc_server_->GetHealthCheckService()->SetServingStatus(false);
    grpc_service_->EndStreams();
    grpc_server_->Shutdown(std::chrono::system_clock::now() + options_.drain_timeout);
    grpc_server_->Wait();
    // A lingering close: every call is answered and every client was sent
    // GOAWAY, but a client may not have read its answer yet. Closing the
    // connections now, with its last frames unread here, would reset them,
    // and a reset discards the answer at the client (the failure HTTP's
    // lingering close exists for). Clients close an idle connection once
    // told GOAWAY; this gives them the time to.
    std::this_thread::sleep_for(kGrpcLinger);
  }
  grpc_server_.reset();
  grpc_service_.reset();
  // New inferences are refused already; HTTP waits for the ones in flight
  // (answering health probes meanwhile, readiness false).
  if (http_server_ != nullptr) http_server_->Stop();
  if (metrics_server_ != nullptr) metrics_server_->Stop();
  metrics_server_.reset();
  http_server_.reset();
  http_service_.reset();
  service_.reset();
  repository_.reset();  // drains and joins every model's instances
  Log(LogLevel::kInfo, "stopped");
}

}  // namespace convd
