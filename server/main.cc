// convd: serves the CNNs of a model repository over the KServe v2 gRPC
// and HTTP/REST protocols. SIGTERM or SIGINT drains: readiness goes false, new requests
// are refused, every queued and running request completes, exit 0.
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/cli_flags.h"
#include "server/log.h"
#include "server/malloc_tuning.h"
#include "server/mutex_settings.h"
#include "server/server.h"

ABSL_FLAG(std::string, model_repository, "", "Model repository directory (required).");
ABSL_FLAG(std::string, grpc_address, "0.0.0.0", "Address the gRPC server binds to.");
ABSL_FLAG(int, grpc_port, 8001, "gRPC port; 0 picks a free one (printed at start).");
ABSL_FLAG(int64_t, grpc_max_message_bytes, 256 << 20, "Largest gRPC request or response.");
ABSL_FLAG(std::string, http_address, "0.0.0.0", "Address the HTTP server binds to.");
ABSL_FLAG(int, http_port, 8000,
          "HTTP (KServe v2 REST) port; 0 picks a free one; -1 disables HTTP.");
ABSL_FLAG(int, http_threads, 2,
          "HTTP I/O threads (they run a model's passes only while those are shorter than its "
          "inline_run_limit_microseconds).");
ABSL_FLAG(int64_t, http_max_body_bytes, 256 << 20, "Largest HTTP request body (413 above).");
ABSL_FLAG(int, metrics_port, 8002,
          "Prometheus /metrics port (on --http-address); 0 picks a free one; -1 disables.");
ABSL_FLAG(bool, triton_metrics, false,
          "Also serve /metrics under Triton's names (nv_inference_request_success, "
          "nv_inference_queue_duration_us, ...), for dashboards and autoscalers made for Triton.");
ABSL_FLAG(std::string, log_level, "info",
          "debug (adds one access line per inference request), info, warning or error.");
ABSL_FLAG(std::string, model_control, "none",
          "none: serve what loaded at start; explicit: also allow RepositoryModelLoad/Unload; "
          "poll: follow the repository's files (load, reload and unload as they change).");
ABSL_FLAG(int, repository_poll_secs, 15,
          "With --model-control=poll: seconds between two comparisons of the repository's files.");
ABSL_FLAG(std::string, load_model, "",
          "With --model-control=explicit: a model to load at start (may be given several times; "
          "'*': all); without it every model loads.");
ABSL_FLAG(bool, disable_auto_complete_config, false,
          "Require a complete config.pbtxt for every model; by default what a config leaves "
          "out (all of it, without one) is read off the model's network or ONNX file.");
ABSL_FLAG(bool, exit_on_error, false,
          "Refuse to start when a model fails to load at start (Triton's default); false: "
          "serve the models that loaded, reporting the others.");
ABSL_FLAG(bool, strict_readiness, true,
          "Ready only while every model is ready (models unloaded on purpose, or loading for "
          "the first time, aside); false: ready while the server serves at all.");
ABSL_FLAG(bool, allow_client_shm, false,
          "Let clients on this host register system shared memory and pass tensors through "
          "it (the KServe v2 shared-memory extension; perf_analyzer --shared-memory=system).");
ABSL_FLAG(std::string, device, "auto", "auto, cpu or cuda.");
ABSL_FLAG(std::string, autotune_cache, "",
          "File keeping GPU autotuning decisions across restarts (by GPU, driver, layer shape "
          "and batch); empty: this process only.");
ABSL_FLAG(int, compute_threads, 0, "Compute threads shared by all models; 0: one per core.");
ABSL_FLAG(int, compute_spin_microseconds, 50,
          "How long an idle compute thread polls for work before it sleeps, so that a forward "
          "pass's next layer need not wake it; 0: sleep at once (no CPU spent polling).");
ABSL_FLAG(int, drain_timeout_seconds, 60,
          "On SIGTERM, how long to wait for in-flight requests before cancelling them.");
ABSL_FLAG(std::string, trace_file, "",
          "Where request traces go (Triton's trace extension): the whole JSON array when convd "
          "exits, or FILE.0, FILE.1, ... every --trace-log-frequency traces; empty: no tracing.");
ABSL_FLAG(std::string, trace_level, "OFF",
          "OFF, or TIMESTAMPS and/or TENSORS (comma-separated): what a traced request records.");
ABSL_FLAG(std::string, trace_rate, "1000", "One inference request in this many is traced.");
ABSL_FLAG(std::string, trace_count, "-1", "How many requests to trace (-1: no limit).");
ABSL_FLAG(std::string, trace_log_frequency, "0",
          "Write traces to FILE.N every this many (0: all to FILE when convd exits).");
ABSL_FLAG(std::string, cache_config, "",
          "local,size=BYTES: a response cache of that many bytes for the models whose config "
          "has response_cache { enable: true } (Triton's flag); empty: none.");
ABSL_FLAG(std::string, grpc_restricted_protocol, "",
          "<group>[,<group>...]:<key>=<value>: those gRPC API groups (health, metadata, "
          "inference, shared-memory, model-config, model-repository, statistics, trace, "
          "logging) answer only calls with metadata triton-grpc-protocol-<key>: <value> "
          "(Triton's flag); may be given several times, a group once.");
ABSL_FLAG(std::string, http_restricted_api, "",
          "<group>[,<group>...]:<key>=<value>: those HTTP API groups answer only requests "
          "with the header <key>: <value> (Triton's flag); may be given several times.");
ABSL_FLAG(bool, grpc_use_ssl, false,
          "Serve gRPC over TLS with --grpc-server-cert and --grpc-server-key.");
ABSL_FLAG(bool, grpc_use_ssl_mutual, false,
          "TLS (as --grpc-use-ssl) that also requires every client to present a certificate "
          "signed by --grpc-root-cert.");
ABSL_FLAG(std::string, grpc_server_cert, "",
          "PEM file: the gRPC server's certificate (then any intermediates).");
ABSL_FLAG(std::string, grpc_server_key, "", "PEM file: that certificate's private key.");
ABSL_FLAG(std::string, grpc_root_cert, "",
          "PEM file: the CAs whose client certificates --grpc-use-ssl-mutual accepts.");
ABSL_FLAG(int64_t, grpc_keepalive_time, 7'200'000,
          "Milliseconds between keepalive pings on an idle gRPC connection.");
ABSL_FLAG(int64_t, grpc_keepalive_timeout, 20'000,
          "Milliseconds to wait for a keepalive ping's answer before closing the connection.");
ABSL_FLAG(bool, grpc_keepalive_permit_without_calls, false,
          "Accept clients' keepalive pings while they have no call open.");
ABSL_FLAG(int64_t, grpc_http2_max_pings_without_data, 2,
          "Pings the server may send with no data between them (0: no limit).");
ABSL_FLAG(int64_t, grpc_http2_min_recv_ping_interval_without_data, 300'000,
          "Milliseconds: a client's pings closer together than this, with no data between, "
          "count as strikes.");
ABSL_FLAG(int64_t, grpc_http2_max_ping_strikes, 2,
          "Strikes after which the connection is closed with GOAWAY (0: any number).");
ABSL_FLAG(int64_t, grpc_max_connection_age, 0,
          "Milliseconds after which a gRPC connection is sent GOAWAY, so clients reconnect "
          "(and spread over new replicas); 0: never.");
ABSL_FLAG(int64_t, grpc_max_connection_age_grace, 0,
          "Milliseconds a connection past its age has to finish its calls; 0: no limit.");
ABSL_FLAG(double, gpu_run_timeout_seconds, 30,
          "How long one forward pass on the GPU may run before the device counts as hung "
          "(its models unavailable and the server not live while it lasts); 0: no limit.");

int main(int argc, char** argv) {
  convd::TuneMallocForTensors();
  convd::DisableMutexDeadlockDetection();
  convd::ParseCommandLine(
      argc, argv,
      "convd --model-repository=DIR [--grpc-port=8001] [--http-port=8000] "
      "[--device=auto|cpu|cuda] ...",
      /*help_source=*/"",
      /*repeatable=*/{"grpc_restricted_protocol", "http_restricted_api", "load_model"});

  // Signals are taken synchronously by sigwait below, never by a handler
  // running on an arbitrary thread; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  convd::ServerOptions options;
  options.model_repository = absl::GetFlag(FLAGS_model_repository);
  options.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  options.grpc_port = absl::GetFlag(FLAGS_grpc_port);
  options.grpc_max_message_bytes = absl::GetFlag(FLAGS_grpc_max_message_bytes);
  options.http_address = absl::GetFlag(FLAGS_http_address);
  options.http_port = absl::GetFlag(FLAGS_http_port);
  options.http_threads = absl::GetFlag(FLAGS_http_threads);
  options.http_max_body_bytes = absl::GetFlag(FLAGS_http_max_body_bytes);
  options.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  options.triton_metrics = absl::GetFlag(FLAGS_triton_metrics);
  options.device = absl::GetFlag(FLAGS_device);
  options.autotune_cache = absl::GetFlag(FLAGS_autotune_cache);
  options.compute_threads = absl::GetFlag(FLAGS_compute_threads);
  const int compute_spin = absl::GetFlag(FLAGS_compute_spin_microseconds);
  if (compute_spin < 0 || compute_spin > 1'000'000) {
    std::fprintf(stderr, "convd: --compute-spin-microseconds must be in [0, 1000000]; got %d\n",
                 compute_spin);
    return 2;
  }
  options.compute_spin = std::chrono::microseconds(compute_spin);
  options.drain_timeout = std::chrono::seconds(absl::GetFlag(FLAGS_drain_timeout_seconds));
  const double gpu_run_timeout = absl::GetFlag(FLAGS_gpu_run_timeout_seconds);
  if (!(gpu_run_timeout >= 0 && gpu_run_timeout < 1e6)) {
    std::fprintf(stderr, "convd: --gpu-run-timeout-seconds must be in [0, 1e6); got %g\n",
                 gpu_run_timeout);
    return 2;
  }
  options.gpu_run_timeout = std::chrono::milliseconds(std::llround(gpu_run_timeout * 1000));
  const std::string model_control = absl::GetFlag(FLAGS_model_control);
  if (model_control == "none") {
    options.model_control = convd::ModelControl::kNone;
  } else if (model_control == "explicit") {
    options.model_control = convd::ModelControl::kExplicit;
  } else if (model_control == "poll") {
    options.model_control = convd::ModelControl::kPoll;
  } else {
    std::fprintf(stderr, "convd: --model-control must be none, explicit or poll; got '%s'\n",
                 model_control.c_str());
    return 2;
  }
  // Server::Start checks these against the mode.
  options.repository_poll_interval =
      std::chrono::seconds(std::max(0, absl::GetFlag(FLAGS_repository_poll_secs)));
  options.startup_models = convd::RepeatedFlagValues(absl::GetFlag(FLAGS_load_model));
  options.strict_readiness = absl::GetFlag(FLAGS_strict_readiness);
  options.exit_on_error = absl::GetFlag(FLAGS_exit_on_error);
  options.auto_complete_config = !absl::GetFlag(FLAGS_disable_auto_complete_config);
  options.allow_client_shm = absl::GetFlag(FLAGS_allow_client_shm);
  const std::optional<convd::LogLevel> log_level =
      convd::ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!log_level.has_value()) {
    std::fprintf(stderr, "convd: --log-level must be debug, info, warning or error; got '%s'\n",
                 absl::GetFlag(FLAGS_log_level).c_str());
    return 2;
  }
  convd::SetLogLevel(*log_level);
  // The API's parser (tracer.h) checks the flags, so both take the same values.
  const absl::StatusOr<convd::TraceSettings> trace = convd::TraceSettingsFromValues({
      {"trace_level", absl::StrSplit(absl::GetFlag(FLAGS_trace_level), ',')},
      {"trace_rate", {absl::GetFlag(FLAGS_trace_rate)}},
      {"trace_count", {absl::GetFlag(FLAGS_trace_count)}},
      {"log_frequency", {absl::GetFlag(FLAGS_trace_log_frequency)}},
  });
  if (!trace.ok()) {
    std::fprintf(stderr, "convd: --trace-*: %s\n", std::string(trace.status().message()).c_str());
    return 2;
  }
  const std::string cache_config = absl::GetFlag(FLAGS_cache_config);
  if (!cache_config.empty()) {
    int64_t bytes = 0;
    if (!absl::StartsWith(cache_config, "local,size=") ||
        !absl::SimpleAtoi(cache_config.substr(strlen("local,size=")), &bytes) || bytes <= 0) {
      std::fprintf(stderr, "convd: --cache-config must be local,size=BYTES (BYTES > 0); got '%s'\n",
                   cache_config.c_str());
      return 2;
    }
    options.response_cache_bytes = bytes;
  }
  options.trace_file = absl::GetFlag(FLAGS_trace_file);
  options.trace = *trace;
  // Each flag may be given several times (ParseCommandLine keeps them all).
  auto restrictions = [](convd::ApiRestrictions::Protocol protocol, const std::string& flag,
                         convd::ApiRestrictions& into) {
    absl::StatusOr<convd::ApiRestrictions> parsed =
        convd::ApiRestrictions::Parse(protocol, convd::RepeatedFlagValues(flag));
    if (!parsed.ok()) {
      std::fprintf(stderr, "convd: %s\n", std::string(parsed.status().message()).c_str());
      return false;
    }
    into = *std::move(parsed);
    return true;
  };
  if (!restrictions(convd::ApiRestrictions::Protocol::kGrpc,
                    absl::GetFlag(FLAGS_grpc_restricted_protocol), options.grpc_restrictions) ||
      !restrictions(convd::ApiRestrictions::Protocol::kHttp,
                    absl::GetFlag(FLAGS_http_restricted_api), options.http_restrictions)) {
    return 2;
  }
  options.grpc_tls = {.use_ssl = absl::GetFlag(FLAGS_grpc_use_ssl),
                      .mutual = absl::GetFlag(FLAGS_grpc_use_ssl_mutual),
                      .server_cert = absl::GetFlag(FLAGS_grpc_server_cert),
                      .server_key = absl::GetFlag(FLAGS_grpc_server_key),
                      .root_cert = absl::GetFlag(FLAGS_grpc_root_cert)};
  options.grpc_connections = {
      .keepalive_time_ms = absl::GetFlag(FLAGS_grpc_keepalive_time),
      .keepalive_timeout_ms = absl::GetFlag(FLAGS_grpc_keepalive_timeout),
      .keepalive_permit_without_calls = absl::GetFlag(FLAGS_grpc_keepalive_permit_without_calls),
      .max_pings_without_data = absl::GetFlag(FLAGS_grpc_http2_max_pings_without_data),
      .min_recv_ping_interval_without_data_ms =
          absl::GetFlag(FLAGS_grpc_http2_min_recv_ping_interval_without_data),
      .max_ping_strikes = absl::GetFlag(FLAGS_grpc_http2_max_ping_strikes),
      .max_connection_age_ms = absl::GetFlag(FLAGS_grpc_max_connection_age),
      .max_connection_age_grace_ms = absl::GetFlag(FLAGS_grpc_max_connection_age_grace)};
  // Checked by Server::Start, as the TLS files are.
  if (options.model_repository.empty()) {
    std::fprintf(stderr, "convd: --model-repository is required\n");
    return 2;
  }

  auto server = convd::Server::Start(options);
  if (!server.ok()) {
    convd::Log(convd::LogLevel::kError, absl::StrCat("cannot start: ", server.status().ToString()));
    return 1;
  }
  int signal = 0;
  sigwait(&signals, &signal);
  convd::Log(convd::LogLevel::kInfo, absl::StrCat("received signal ", signal));
  (*server)->Shutdown();
  return 0;
}
