#include "server/core/inference_service.h"

#include <algorithm>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "engine/model_config.h"
#include "engine/status_macros.h"
#include "server/core/infer_codec.h"
#include "server/core/log_settings.h"
#include "server/log.h"

namespace convd {
namespace {

// What a request's response depends on, for the response cache: `input` is
// the request's decoded input, wherever it has moved since decoding.
ResponseCache::Key CacheKey(const ServedModel& served, const DecodedRequest& request,
                            const JobInput& input) {
  return {served.load_id(), request.rows, request.classification_k,
          absl::MakeConstSpan(input.data(), input.size())};
}

// One structured access line per inference request (--log-level=debug):
// key=value pairs, the request id quoted.
void LogAccess(const std::string& id, const std::string& model, const std::string& version,
               const absl::Status& status, int64_t total_ns, const InferenceJob* job) {
  if (!LogEnabled(LogLevel::kDebug)) return;
  std::string line = absl::StrCat(
      "access id=\"", absl::CHexEscape(id), "\" model=\"", absl::CHexEscape(model),
      "\" version=", version.empty() ? "-" : absl::CHexEscape(version),
      " status=", absl::StatusCodeToString(status.code()), " total_us=", total_ns / 1000);
  if (job != nullptr) {
    absl::StrAppend(&line, " rows=", job->rows, " batch_size=", job->batch_size,
                    " queue_us=", job->times.queue_ns / 1000,
                    " compute_us=", job->times.compute_infer_ns / 1000);
    if (job->priority_level > 0) absl::StrAppend(&line, " priority=", job->priority_level);
  }
  Log(LogLevel::kDebug, line);
}

// A queued job's stages, from the times the scheduler kept: where each
// stage ends the next begins, so these are the instants it measured.
void TraceJob(const InferenceJob& job, RequestTrace& trace) {
  if (job.enqueued == TimePoint()) return;  // never queued
  trace.Timestamp(trace_stage::kQueueStart, job.enqueued);
  if (job.batch_size == 0) return;  // never ran
  const JobTimes& times = job.times;
  const TimePoint compute_start = job.enqueued + std::chrono::nanoseconds(times.queue_ns);
  const TimePoint input_end = compute_start + std::chrono::nanoseconds(times.compute_input_ns);
  const TimePoint output_start = input_end + std::chrono::nanoseconds(times.compute_infer_ns);
  trace.Timestamp(trace_stage::kComputeStart, compute_start);
  trace.Timestamp(trace_stage::kComputeInputEnd, input_end);
  trace.Timestamp(trace_stage::kComputeOutputStart, output_start);
  trace.Timestamp(trace_stage::kComputeEnd,
                  output_start + std::chrono::nanoseconds(times.compute_output_ns));
}

// A tensor's shape as the trace gives it: the batch first where the model
// has one.
std::vector<int64_t> TracedShape(const inference::ModelConfig& config, int rows,
                                 const google::protobuf::RepeatedField<int64_t>& dims) {
  std::vector<int64_t> shape;
  if (config.max_batch_size() > 0) shape.push_back(rows);
  shape.insert(shape.end(), dims.begin(), dims.end());
  return shape;
}

int64_t NanosecondsSince(TimePoint start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - start)
      .count();
}

// When a queued request times out: its priority level's default, shortened
// by the request's own "timeout" where that policy allows overrides.
std::optional<TimePoint> QueueDeadline(const inference::ModelConfig& config,
                                       const DecodedRequest& request, TimePoint arrival) {
  std::optional<std::chrono::microseconds> timeout;
  if (config.has_dynamic_batching()) {
    const inference::ModelQueuePolicy& policy = QueuePolicy(config, request.priority_level);
    if (policy.default_timeout_microseconds() > 0) {
      timeout = std::chrono::microseconds(policy.default_timeout_microseconds());
    }
    if (request.timeout.has_value() && policy.allow_timeout_override()) {
      timeout = timeout.has_value() ? std::min(*timeout, *request.timeout) : *request.timeout;
    }
  }
  if (!timeout.has_value()) return std::nullopt;
  return arrival + *timeout;
}

void FillTensorMetadata(const std::string& name, const std::string& datatype,
                        const google::protobuf::RepeatedField<int64_t>& dims, bool batched,
                        inference::ModelMetadataResponse::TensorMetadata& out) {
  out.set_name(name);
  out.set_datatype(datatype);
  if (batched) out.add_shape(-1);
  for (int64_t d : dims) out.add_shape(d);
}

}  // namespace

bool InferenceService::PreservesOrdering(const std::string& model_name,
                                         const std::string& model_version) const {
  auto model = repository_->Get(model_name, model_version);
  return model.ok() && (*model)->config().dynamic_batching().preserve_ordering();
}

void PendingInference::Cancel() {
  if (model_ != nullptr && job_ != nullptr) model_->scheduler().Cancel(*job_);
}

InferenceService::InferenceService(ModelRepository* repository, Options options)
    : repository_(repository),
      options_(options),
      shared_memory_(options.allow_client_shm),
      tracer_(options.tracer != nullptr ? options.tracer : *Tracer::Create("", TraceSettings())) {}

bool InferenceService::Ready() const {
  return !draining_.load() && (!options_.strict_readiness || repository_->AllReady());
}

inference::ServerMetadataResponse InferenceService::ServerMetadata() const {
  inference::ServerMetadataResponse response;
  response.set_name(kServerName);
  response.set_version(kServerVersion);
  for (const char* extension :
       {"classification", "model_repository", "model_repository(unload_dependents)", "statistics",
        "model_configuration", "binary_tensor_data", "logging", "trace"}) {
    response.add_extensions(extension);
  }
  if (shared_memory_.enabled()) response.add_extensions("system_shared_memory");
  return response;
}

absl::StatusOr<bool> InferenceService::ModelReady(
    const inference::ModelReadyRequest& request) const {
  if (draining_.load()) return false;
  auto model = repository_->Get(request.name(), request.version());
  if (model.ok()) return true;
  if (model.status().code() == absl::StatusCode::kUnavailable) return false;
  return model.status();
}

absl::StatusOr<inference::ModelMetadataResponse> InferenceService::ModelMetadata(
    const inference::ModelMetadataRequest& request) const {
  ASSIGN_OR_RETURN(std::shared_ptr<ServedModel> model,
                   repository_->Get(request.name(), request.version()));
  ASSIGN_OR_RETURN(auto versions, repository_->Versions(request.name()));
  const inference::ModelConfig& config = model->config();
  inference::ModelMetadataResponse response;
  response.set_name(config.name());
  for (const auto& version : versions) response.add_versions(std::to_string(version->version()));
  response.set_platform(config.platform());
  const bool batched = config.max_batch_size() > 0;
  const inference::ModelInput& input = config.input(0);
  FillTensorMetadata(input.name(), DataTypeName(input.data_type()), input.dims(), batched,
                     *response.add_inputs());
  const inference::ModelOutput& output = config.output(0);
  FillTensorMetadata(output.name(), DataTypeName(output.data_type()), output.dims(), batched,
                     *response.add_outputs());
  return response;
}

absl::StatusOr<inference::ModelConfigResponse> InferenceService::ModelConfig(
    const inference::ModelConfigRequest& request) const {
  ASSIGN_OR_RETURN(std::shared_ptr<ServedModel> model,
                   repository_->Get(request.name(), request.version()));
  inference::ModelConfigResponse response;
  *response.mutable_config() = model->config();
  return response;
}

absl::StatusOr<inference::ModelStatisticsResponse> InferenceService::ModelStatistics(
    const inference::ModelStatisticsRequest& request) const {
  std::vector<std::shared_ptr<ServedModel>> models;
  if (request.name().empty()) {
    if (!request.version().empty()) {
      return absl::InvalidArgumentError("statistics: a version needs a model name");
    }
    models = repository_->AllServed();
  } else if (request.version().empty()) {
    ASSIGN_OR_RETURN(models, repository_->Versions(request.name()));
  } else {
    ASSIGN_OR_RETURN(std::shared_ptr<ServedModel> model,
                     repository_->Get(request.name(), request.version()));
    models.push_back(std::move(model));
  }
  inference::ModelStatisticsResponse response;
  for (const auto& model : models) {
    inference::ModelStatistics& stats = *response.add_model_stats();
    stats.set_name(model->name());
    stats.set_version(std::to_string(model->version()));
    model->statistics().Fill(stats);
    // GPU id 0: the server runs on one device.
    for (const auto& [type, bytes] : model->MemoryByType()) {
      inference::MemoryUsage& memory = *stats.add_memory_usage();
      memory.set_type(type);
      memory.set_id(0);
      memory.set_byte_size(bytes);
    }
  }
  return response;
}

inference::RepositoryIndexResponse InferenceService::RepositoryIndex(
    const inference::RepositoryIndexRequest& request) const {
  inference::RepositoryIndexResponse response;
  for (const ModelRepository::IndexEntry& entry : repository_->Index()) {
    if (request.ready() && entry.state != ModelRepository::State::kReady) continue;
    auto& model = *response.add_models();
    model.set_name(entry.name);
    model.set_version(entry.version);
    model.set_state(ModelRepository::StateName(entry.state));
    model.set_reason(entry.reason);
  }
  return response;
}

absl::Status InferenceService::CheckModelControl() const {
  switch (options_.model_control) {
    case ModelControl::kExplicit:
      return absl::OkStatus();
    case ModelControl::kPoll:
      return absl::FailedPreconditionError(
          "convd follows the model repository's files (--model-control=poll): add, change or "
          "remove a model's files to load, reload or unload it; the API cannot");
    case ModelControl::kNone:
      break;
  }
  return absl::FailedPreconditionError(
      "model control is disabled; start convd with --model-control=explicit to load and "
      "unload models through the API");
}

absl::Status InferenceService::RepositoryModelLoad(
    const inference::RepositoryModelLoadRequest& request) {
  RETURN_IF_ERROR(CheckModelControl());
  std::optional<inference::ModelConfig> config;
  for (const auto& [key, value] : request.parameters()) {
    if (key.starts_with("file:")) {
      return absl::UnimplementedError(
          absl::StrCat("load parameter '", key,
                       "': convd loads a model's files only as the repository "
                       "holds them; put them there and load again"));
    }
    if (key != "config") continue;
    if (value.parameter_choice_case() != inference::ModelRepositoryParameter::kStringParam) {
      return absl::InvalidArgumentError(
          "load parameter 'config' must be a string holding the model config as JSON");
    }
    absl::StatusOr<inference::ModelConfig> parsed = ParseModelConfigJson(value.string_param());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("load parameter 'config': ", parsed.status().message()));
    }
    config = *std::move(parsed);
  }
  return repository_->Load(request.model_name(), config.has_value() ? &*config : nullptr);
}

absl::Status InferenceService::RepositoryModelUnload(
    const inference::RepositoryModelUnloadRequest& request) {
  RETURN_IF_ERROR(CheckModelControl());
  return repository_->Unload(request.model_name());
}

absl::StatusOr<inference::SystemSharedMemoryStatusResponse>
InferenceService::SystemSharedMemoryStatus(
    const inference::SystemSharedMemoryStatusRequest& request) const {
  return shared_memory_.Status(request.name());
}

absl::Status InferenceService::SystemSharedMemoryRegister(
    const inference::SystemSharedMemoryRegisterRequest& request) {
  return shared_memory_.Register(request);
}

absl::Status InferenceService::SystemSharedMemoryUnregister(
    const inference::SystemSharedMemoryUnregisterRequest& request) {
  return shared_memory_.Unregister(request.name());
}

absl::Status InferenceService::CudaSharedMemoryRegister() const {
  return absl::UnimplementedError(
      "CUDA shared memory is not supported; use system shared memory (--allow-client-shm)");
}

absl::StatusOr<inference::LogSettingsResponse> InferenceService::LogSettings(
    const inference::LogSettingsRequest& request) {
  RETURN_IF_ERROR(UpdateLogSettings(request));
  return LogSettingsAsResponse();
}

absl::StatusOr<inference::TraceSettingResponse> InferenceService::TraceSetting(
    const inference::TraceSettingRequest& request) {
  if (!request.model_name().empty()) {
    // A model still loading, or that failed to, may have settings too.
    auto model = repository_->Get(request.model_name(), "");
    if (!model.ok() && model.status().code() != absl::StatusCode::kUnavailable) {
      return model.status();
    }
  }
  return tracer_->Update(request);
}

absl::StatusOr<inference::CudaSharedMemoryStatusResponse> InferenceService::CudaSharedMemoryStatus(
    const inference::CudaSharedMemoryStatusRequest& request) const {
  if (!request.name().empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no CUDA shared-memory region '", request.name(),
        "': CUDA shared memory is not supported; use system shared memory (--allow-client-shm)"));
  }
  return inference::CudaSharedMemoryStatusResponse();
}

absl::Status InferenceService::CudaSharedMemoryUnregister(
    const inference::CudaSharedMemoryUnregisterRequest&) const {
  return absl::OkStatus();  // none can be registered, so none remains
}

std::shared_ptr<PendingInference> InferenceService::Infer(
    inference::ModelInferRequest& request, inference::ModelInferResponse* response,
    absl::AnyInvocable<void(absl::Status)> done, std::shared_ptr<RequestTrace> trace) {
  const TimePoint arrival = SteadyClock::now();
  if (trace != nullptr) {
    trace->Timestamp(trace_stage::kRequestStart, arrival);
    trace->SetModel(request.model_name(), -1);
    trace->SetRequestId(request.id());
  }
  // A request refused before it is queued.
  auto refuse = [&](const absl::Status& status) {
    LogAccess(request.id(), request.model_name(), request.model_version(), status,
              NanosecondsSince(arrival), nullptr);
    if (trace != nullptr) trace->Timestamp(trace_stage::kRequestEnd, SteadyClock::now());
    trace.reset();
    done(status);
  };
  if (draining_.load()) {
    RecordRejected(absl::StatusCode::kUnavailable);
    refuse(absl::UnavailableError("server is shutting down; not accepting new requests"));
    return nullptr;
  }
  auto model = repository_->Get(request.model_name(), request.model_version());
  if (!model.ok()) {
    RecordRejected(model.status().code());
    refuse(model.status());
    return nullptr;
  }
  ServedModel* served = model->get();  // alive while `pending` is held
  if (trace != nullptr) trace->SetModel(served->name(), served->version());
  auto decoded = DecodeInferRequest(*served, request, shared_memory_);
  if (!decoded.ok()) {
    served->statistics().RecordFailure(NanosecondsSince(arrival), decoded.status().code());
    refuse(decoded.status());
    return nullptr;
  }
  const inference::ModelConfig& config = served->config();
  if (trace != nullptr && trace->wants_tensors()) {
    trace->Tensor("TENSOR_QUEUE_INPUT", config.input(0).name(),
                  TracedShape(config, decoded->rows, config.input(0).dims()),
                  absl::MakeConstSpan(decoded->input.data(), decoded->input.size()));
  }
  // Layer stats describe a run, and an output in shared memory is written
  // there, not kept: neither comes from the cache.
  ResponseCache* cache = config.response_cache().enable() && !decoded->want_layer_stats &&
                                 !decoded->output_memory.has_value()
                             ? options_.response_cache.get()
                             : nullptr;
  int64_t cache_lookup_ns = 0;
  if (cache != nullptr) {
    const TimePoint lookup_start = SteadyClock::now();
    std::optional<inference::ModelInferResponse> cached =
        cache->Lookup(CacheKey(*served, *decoded, decoded->input));
    cache_lookup_ns = NanosecondsSince(lookup_start);
    if (cached.has_value()) {
      *response = *std::move(cached);
      response->set_id(decoded->id);
      served->statistics().RecordCacheHit(decoded->rows, NanosecondsSince(arrival),
                                          cache_lookup_ns);
      LogAccess(decoded->id, served->name(), std::to_string(served->version()), absl::OkStatus(),
                NanosecondsSince(arrival), nullptr);
      if (trace != nullptr) {
        trace->Timestamp(trace_stage::kInferResponseComplete, SteadyClock::now());
        trace->Timestamp(trace_stage::kRequestEnd, SteadyClock::now());
        trace.reset();
      }
      done(absl::OkStatus());
      return nullptr;
    }
  }
  auto pending = std::make_shared<PendingInference>();
  pending->model_ = *model;
  pending->job_ = std::make_shared<InferenceJob>();
  InferenceJob& job = *pending->job_;
  job.rows = decoded->rows;
  job.input = std::move(decoded->input);
  job.want_layer_stats = decoded->want_layer_stats;
  job.priority_level = decoded->priority_level;
  job.queue_deadline = QueueDeadline(config, *decoded, arrival);
  job.delay_on_timeout = QueuePolicy(config, decoded->priority_level).timeout_action() ==
                         inference::ModelQueuePolicy::DELAY;
  // The job is alive while its callback runs (the scheduler holds it).
  job.done = [served, job_ptr = &job, request_info = std::move(*decoded), response, arrival, cache,
              cache_lookup_ns, trace = std::move(trace),
              done = std::move(done)](absl::Status status) mutable {
    if (status.ok()) status = EncodeInferResponse(*served, request_info, *job_ptr, *response);
    if (cache != nullptr) {
      const TimePoint insert_start = SteadyClock::now();
      if (status.ok()) {
        cache->Insert(CacheKey(*served, request_info, job_ptr->input), *response);
      }
      served->statistics().RecordCacheMiss(cache_lookup_ns + NanosecondsSince(insert_start));
    }
    if (status.ok()) {
      served->statistics().RecordSuccess(job_ptr->rows, NanosecondsSince(arrival),
                                         job_ptr->times);
    } else {
      served->statistics().RecordFailure(NanosecondsSince(arrival), status.code());
    }
    LogAccess(request_info.id, served->name(), std::to_string(served->version()), status,
              NanosecondsSince(arrival), job_ptr);
    if (trace != nullptr) {
      TraceJob(*job_ptr, *trace);
      if (status.ok()) {
        trace->Timestamp(trace_stage::kInferResponseComplete, SteadyClock::now());
        if (trace->wants_tensors()) {
          const inference::ModelOutput& output = served->config().output(0);
          trace->Tensor("TENSOR_BACKEND_OUTPUT", output.name(),
                        TracedShape(served->config(), job_ptr->rows, output.dims()),
                        job_ptr->output);
        }
      }
      trace->Timestamp(trace_stage::kRequestEnd, SteadyClock::now());
      trace.reset();
    }
    done(std::move(status));
  };
  absl::Status scheduled = served->scheduler().Schedule(pending->job_);
  if (!scheduled.ok()) {  // the job was not taken: report through its callback here
    job.done(std::move(scheduled));
    return nullptr;
  }
  return pending;
}

void InferenceService::RecordRejected(absl::StatusCode code) {
  const size_t index = static_cast<size_t>(code);
  if (index < rejected_.size()) rejected_[index].fetch_add(1, std::memory_order_relaxed);
}

std::map<absl::StatusCode, uint64_t> InferenceService::Rejected() const {
  std::map<absl::StatusCode, uint64_t> counts;
  for (size_t i = 0; i < rejected_.size(); ++i) {
    if (const uint64_t n = rejected_[i].load(std::memory_order_relaxed); n > 0) {
      counts[static_cast<absl::StatusCode>(i)] = n;
    }
  }
  return counts;
}

}  // namespace convd
