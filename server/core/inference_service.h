// The server's operations, independent of the wire protocol: health,
// metadata, config, statistics, repository control and inference. Requests
// and responses are the KServe v2 messages of proto/inference.proto; the
// gRPC front end passes them through, the HTTP front end maps JSON to them.
//
// Thread safety: every method may be called concurrently.
#ifndef CONVD_SERVER_CORE_INFERENCE_SERVICE_H_
#define CONVD_SERVER_CORE_INFERENCE_SERVICE_H_

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "proto/inference.pb.h"
#include "server/core/response_cache.h"
#include "server/core/shared_memory.h"
#include "server/core/tracer.h"
#include "server/repository/repository.h"

namespace convd {

inline constexpr char kServerName[] = "convd";
inline constexpr char kServerVersion[] = "0.1.0";

// An inference in flight. Holding it keeps its model version alive.
class PendingInference {
 public:
  // Drops the request from its queue if it has not started (it then
  // completes with CANCELLED). Safe at any time, also after completion.
  void Cancel();

 private:
  friend class InferenceService;
  std::shared_ptr<ServedModel> model_;
  std::shared_ptr<InferenceJob> job_;
};

class InferenceService {
 public:
  struct Options {
    // RepositoryModelLoad/Unload are refused unless kExplicit
    // (--model-control), each refusal saying why.
    ModelControl model_control = ModelControl::kNone;
    // Readiness also requires every model to be ready (Triton's
    // --strict-readiness); false: ready while the server serves at all.
    bool strict_readiness = true;
    // The system shared-memory API and tensors in shared memory are
    // refused unless true (--allow-client-shm).
    bool allow_client_shm = false;
    // Which requests are traced (the trace extension); null: none, and
    // no level but OFF can be set (no trace file).
    std::shared_ptr<Tracer> tracer = nullptr;
    // Where models whose config enables the response cache keep their
    // responses (--cache-config); null: no cache.
    std::shared_ptr<ResponseCache> response_cache = nullptr;
  };

  // `repository` must outlive the service.
  InferenceService(ModelRepository* repository, Options options);

  // False once the GPU the models run on has failed for good (its CUDA
  // context is lost: ModelRepository::GpuFault): only a restart recovers,
  // and a liveness probe on this is what restarts it. CPU models still
  // serve meanwhile.
  bool Live() const { return repository_->GpuFault().ok(); }
  // False once draining; else, with strict_readiness, true when every
  // model the repository loaded (or tried to) is ready, not counting models
  // unloaded on purpose or loading for the first time; without, true.
  bool Ready() const;
  // Refuses new inferences with UNAVAILABLE from now on; queued and running
  // ones complete.
  void BeginDrain() { draining_.store(true); }
  bool draining() const { return draining_.load(); }

  inference::ServerMetadataResponse ServerMetadata() const;
  absl::StatusOr<bool> ModelReady(const inference::ModelReadyRequest& request) const;
  absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(
      const inference::ModelMetadataRequest& request) const;
  absl::StatusOr<inference::ModelConfigResponse> ModelConfig(
      const inference::ModelConfigRequest& request) const;
  absl::StatusOr<inference::ModelStatisticsResponse> ModelStatistics(
      const inference::ModelStatisticsRequest& request) const;
  inference::RepositoryIndexResponse RepositoryIndex(
      const inference::RepositoryIndexRequest& request) const;
  // Loads or reloads the model as the repository holds it, or, with the
  // parameter "config" (a string: the ModelConfig as JSON, as Triton takes
  // it), with that config in place of config.pbtxt for this load. "file:"
  // parameters (model files sent with the request) are UNIMPLEMENTED.
  absl::Status RepositoryModelLoad(const inference::RepositoryModelLoadRequest& request);
  absl::Status RepositoryModelUnload(const inference::RepositoryModelUnloadRequest& request);

  // The system shared-memory extension (server/core/shared_memory.h).
  absl::StatusOr<inference::SystemSharedMemoryStatusResponse> SystemSharedMemoryStatus(
      const inference::SystemSharedMemoryStatusRequest& request) const;
  absl::Status SystemSharedMemoryRegister(
      const inference::SystemSharedMemoryRegisterRequest& request);
  absl::Status SystemSharedMemoryUnregister(
      const inference::SystemSharedMemoryUnregisterRequest& request);
  // The CUDA shared-memory API, where convd registers nothing: register is
  // UNIMPLEMENTED, naming the alternative; status lists no regions (NOT_FOUND
  // for a named one) and unregister succeeds, as Triton answers with none
  // registered, so clients that clean up both kinds (perf_analyzer) succeed.
  absl::Status CudaSharedMemoryRegister() const;
  absl::StatusOr<inference::CudaSharedMemoryStatusResponse> CudaSharedMemoryStatus(
      const inference::CudaSharedMemoryStatusRequest& request) const;
  absl::Status CudaSharedMemoryUnregister(
      const inference::CudaSharedMemoryUnregisterRequest& request) const;
  // The logging extension (server/core/log_settings.h): applies the
  // settings named, all or none, and returns every setting.
  absl::StatusOr<inference::LogSettingsResponse> LogSettings(
      const inference::LogSettingsRequest& request);
  // The trace extension (server/core/tracer.h): applies the settings
  // named, all or none, for the request's model (NOT_FOUND when convd has
  // no such model) or globally, and returns those then in force.
  absl::StatusOr<inference::TraceSettingResponse> TraceSetting(
      const inference::TraceSettingRequest& request);
  // A trace for a request to `model_name` when it is one to trace (by the
  // trace settings), else null: front ends call this once per inference
  // request, record their own stages in it and pass it to Infer.
  std::shared_ptr<RequestTrace> SampleTrace(absl::string_view model_name) {
    return tracer_->Sample(model_name);
  }

  // Validates and queues `request`. `done` is called exactly once, inline
  // when the request is refused before queueing or answered from the
  // response cache (a model with `response_cache { enable: true }`, a
  // request without layer_stats or an output in shared memory), else from
  // an instance thread; `response` is filled when the status is OK and must stay valid
  // until then (`request` need not: everything is decoded up front). An
  // FP32 input in raw_input_contents is moved out of `request`, not copied
  // (DecodeInferRequest); nothing else in it changes.
  // `trace` (from SampleTrace, or null) gets the request's stages from
  // REQUEST_START to REQUEST_END, and at the TENSORS level the input the
  // model ran on and its output; Infer drops its reference before `done`
  // runs, so the trace is written once the caller drops its own.
  // Returns the handle to cancel with, or null when `done` already ran.
  std::shared_ptr<PendingInference> Infer(inference::ModelInferRequest& request,
                                          inference::ModelInferResponse* response,
                                          absl::AnyInvocable<void(absl::Status)> done,
                                          std::shared_ptr<RequestTrace> trace = nullptr);

  // Whether the model a request names answers in the order it receives
  // requests (dynamic_batching preserve_ordering); false when there is no
  // such model. A stream schedules such a model's requests in its own
  // order, one after another.
  bool PreservesOrdering(const std::string& model_name, const std::string& model_version) const;

  // Inference requests that failed before reaching a model (malformed
  // bodies, unknown models, draining), by code. Front ends report their
  // own parse failures with RecordRejected; Infer records the rest.
  void RecordRejected(absl::StatusCode code);
  std::map<absl::StatusCode, uint64_t> Rejected() const;

  ModelRepository& repository() const { return *repository_; }
  // The server's response cache; null without one.
  const ResponseCache* response_cache() const { return options_.response_cache.get(); }

 private:
  // FAILED_PRECONDITION unless load/unload through the API is allowed.
  absl::Status CheckModelControl() const;

  ModelRepository* repository_;
  const Options options_;
  SharedMemoryRegistry shared_memory_;
  const std::shared_ptr<Tracer> tracer_;  // never null
  std::atomic<bool> draining_{false};
  std::array<std::atomic<uint64_t>, 17> rejected_{};  // by absl::StatusCode value
};

}  // namespace convd

#endif  // CONVD_SERVER_CORE_INFERENCE_SERVICE_H_
