#include "server/grpc/grpc_service.h"

#include <chrono>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "server/grpc/grpc_status.h"
#include "server/grpc/stream_infer.h"

namespace convd {
namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Copies a StatusOr's value into the response on success.
template <typename T>
absl::Status Store(absl::StatusOr<T> result, T* response) {
  if (result.ok()) *response = std::move(*result);
  return result.status();
}

// A stream refused before it reads a request (a restricted API).
class RefusedStream : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit RefusedStream(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// One ModelInfer call. The inference may complete (and gRPC may call
// OnDone and delete the reactor) as soon as it is queued, so the handle
// lives in a shared block the constructor keeps its own reference to.
class InferReactor : public grpc::ServerUnaryReactor {
 public:
  InferReactor(InferenceService* service, const grpc::ByteBuffer* raw_request,
               grpc::ByteBuffer* raw_response)
      : shared_(std::make_shared<Shared>()) {
    const auto read_start = std::chrono::steady_clock::now();
    absl::StatusOr<inference::ModelInferRequest> request = ParseInferRequest(*raw_request, service);
    if (!request.ok()) {
      Finish(ToGrpcStatus(request.status()));
      return;
    }
    // Kept until OnDone, when the response has been sent.
    trace_ = service->SampleTrace(request->model_name());
    if (trace_ != nullptr) {
      trace_->Timestamp(trace_stage::kGrpcWaitReadStart, read_start);
      trace_->Timestamp(trace_stage::kGrpcWaitReadEnd, std::chrono::steady_clock::now());
    }
    std::shared_ptr<Shared> shared = shared_;
    // The callback runs before Finish, so the reactor and `shared` are alive;
    // it holds a plain pointer, as a shared one would make a cycle through
    // the pending job that owns the callback.
    std::shared_ptr<PendingInference> pending = service->Infer(
        *request, &shared->response,
        [this, shared = shared.get(), raw_response](absl::Status status) {
          if (trace_ != nullptr) {
            trace_->Timestamp(trace_stage::kGrpcSendStart, std::chrono::steady_clock::now());
          }
          if (status.ok()) {
            bool own_buffer = false;
            grpc::ByteBuffer serialized;
            status = ToAbsl(grpc::SerializationTraits<inference::ModelInferResponse>::Serialize(
                shared->response, &serialized, &own_buffer));
            raw_response->Swap(&serialized);
          }
          Finish(ToGrpcStatus(status));  // nothing touches `this` after this line
        },
        trace_);
    std::lock_guard<std::mutex> lock(shared->mutex);
    shared->pending = std::move(pending);
    if (shared->cancelled && shared->pending != nullptr) shared->pending->Cancel();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->cancelled = true;
    if (shared_->pending != nullptr) shared_->pending->Cancel();
  }

  void OnDone() override {
    if (trace_ != nullptr) {
      trace_->Timestamp(trace_stage::kGrpcSendEnd, std::chrono::steady_clock::now());
    }
    delete this;
  }

 private:
  struct Shared {
    std::mutex mutex;
    std::shared_ptr<PendingInference> pending;  // keeps the model version alive
    bool cancelled = false;
    inference::ModelInferResponse response;
  };

  static absl::Status ToAbsl(const grpc::Status& status) {
    return status.ok() ? absl::OkStatus()
                       : absl::InternalError(absl::StrCat("cannot serialize the response: ",
                                                          status.error_message()));
  }

  std::shared_ptr<Shared> shared_;
  std::shared_ptr<RequestTrace> trace_;  // null unless this request is traced
};

}  // namespace

absl::Status GrpcInferenceService::Allowed(grpc::CallbackServerContext* context,
                                           ApiGroup group) const {
  return restrictions_.Check(
      group, [context](absl::string_view name) -> std::optional<std::string> {
        const auto& metadata = context->client_metadata();
        auto found = metadata.find(grpc::string_ref(name.data(), name.size()));
        if (found == metadata.end()) return std::nullopt;
        return std::string(found->second.data(), found->second.size());
      });
}

template <typename Body>
grpc::ServerUnaryReactor* GrpcInferenceService::Respond(grpc::CallbackServerContext* context,
                                                        ApiGroup group, Body&& body) {
  absl::Status status = Allowed(context, group);
  if (status.ok()) status = body();
  return Finish(context, status);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerLive(
    grpc::CallbackServerContext* context, const inference::ServerLiveRequest*,
    inference::ServerLiveResponse* response) {
  return Respond(context, ApiGroup::kHealth, [&] {
    response->set_live(service_->Live());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerReady(
    grpc::CallbackServerContext* context, const inference::ServerReadyRequest*,
    inference::ServerReadyResponse* response) {
  return Respond(context, ApiGroup::kHealth, [&] {
    response->set_ready(service_->Ready());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelReady(
    grpc::CallbackServerContext* context, const inference::ModelReadyRequest* request,
    inference::ModelReadyResponse* response) {
  return Respond(context, ApiGroup::kHealth, [&] {
    absl::StatusOr<bool> ready = service_->ModelReady(*request);
    // As Triton answers: a model or version it does not know is not ready
    // (tritonclient's is_model_ready returns False, where an error would
    // raise). HTTP's 404 says more, and its clients read any non-200 as
    // not ready.
    if (ready.status().code() == absl::StatusCode::kNotFound) ready = false;
    if (ready.ok()) response->set_ready(*ready);
    return ready.status();
  });
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerMetadata(
    grpc::CallbackServerContext* context, const inference::ServerMetadataRequest*,
    inference::ServerMetadataResponse* response) {
  return Respond(context, ApiGroup::kMetadata, [&] {
    *response = service_->ServerMetadata();
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelMetadata(
    grpc::CallbackServerContext* context, const inference::ModelMetadataRequest* request,
    inference::ModelMetadataResponse* response) {
  return Respond(context, ApiGroup::kMetadata,
                 [&] { return Store(service_->ModelMetadata(*request), response); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelInfer(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  if (absl::Status allowed = Allowed(context, ApiGroup::kInference); !allowed.ok()) {
    service_->RecordRejected(allowed.code());
    return Finish(context, allowed);
  }
  return new InferReactor(service_, request, response);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GrpcInferenceService::ModelStreamInfer(
    grpc::CallbackServerContext* context) {
  if (absl::Status allowed = Allowed(context, ApiGroup::kInference); !allowed.ok()) {
    service_->RecordRejected(allowed.code());
    return new RefusedStream(allowed);
  }
  return NewStreamInferReactor(service_, &streams_);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelConfig(
    grpc::CallbackServerContext* context, const inference::ModelConfigRequest* request,
    inference::ModelConfigResponse* response) {
  return Respond(context, ApiGroup::kModelConfig,
                 [&] { return Store(service_->ModelConfig(*request), response); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelStatistics(
    grpc::CallbackServerContext* context, const inference::ModelStatisticsRequest* request,
    inference::ModelStatisticsResponse* response) {
  return Respond(context, ApiGroup::kStatistics,
                 [&] { return Store(service_->ModelStatistics(*request), response); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::RepositoryIndex(
    grpc::CallbackServerContext* context, const inference::RepositoryIndexRequest* request,
    inference::RepositoryIndexResponse* response) {
  return Respond(context, ApiGroup::kModelRepository, [&] {
    *response = service_->RepositoryIndex(*request);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GrpcInferenceService::RepositoryModelLoad(
    grpc::CallbackServerContext* context, const inference::RepositoryModelLoadRequest* request,
    inference::RepositoryModelLoadResponse*) {
  return Respond(context, ApiGroup::kModelRepository,
                 [&] { return service_->RepositoryModelLoad(*request); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::RepositoryModelUnload(
    grpc::CallbackServerContext* context, const inference::RepositoryModelUnloadRequest* request,
    inference::RepositoryModelUnloadResponse*) {
  return Respond(context, ApiGroup::kModelRepository,
                 [&] { return service_->RepositoryModelUnload(*request); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::SystemSharedMemoryStatus(
    grpc::CallbackServerContext* context, const inference::SystemSharedMemoryStatusRequest* request,
    inference::SystemSharedMemoryStatusResponse* response) {
  return Respond(context, ApiGroup::kSharedMemory,
                 [&] { return Store(service_->SystemSharedMemoryStatus(*request), response); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::SystemSharedMemoryRegister(
    grpc::CallbackServerContext* context,
    const inference::SystemSharedMemoryRegisterRequest* request,
    inference::SystemSharedMemoryRegisterResponse*) {
  return Respond(context, ApiGroup::kSharedMemory,
                 [&] { return service_->SystemSharedMemoryRegister(*request); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::SystemSharedMemoryUnregister(
    grpc::CallbackServerContext* context,
    const inference::SystemSharedMemoryUnregisterRequest* request,
    inference::SystemSharedMemoryUnregisterResponse*) {
  return Respond(context, ApiGroup::kSharedMemory,
                 [&] { return service_->SystemSharedMemoryUnregister(*request); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::CudaSharedMemoryStatus(
    grpc::CallbackServerContext* context, const inference::CudaSharedMemoryStatusRequest* request,
    inference::CudaSharedMemoryStatusResponse* response) {
  return Respond(context, ApiGroup::kSharedMemory,
                 [&] { return Store(service_->CudaSharedMemoryStatus(*request), response); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::CudaSharedMemoryRegister(
    grpc::CallbackServerContext* context, const inference::CudaSharedMemoryRegisterRequest*,
    inference::CudaSharedMemoryRegisterResponse*) {
  return Respond(context, ApiGroup::kSharedMemory,
                 [&] { return service_->CudaSharedMemoryRegister(); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::CudaSharedMemoryUnregister(
    grpc::CallbackServerContext* context,
    const inference::CudaSharedMemoryUnregisterRequest* request,
    inference::CudaSharedMemoryUnregisterResponse*) {
  return Respond(context, ApiGroup::kSharedMemory,
                 [&] { return service_->CudaSharedMemoryUnregister(*request); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::LogSettings(
    grpc::CallbackServerContext* context, const inference::LogSettingsRequest* request,
    inference::LogSettingsResponse* response) {
  return Respond(context, ApiGroup::kLogging,
                 [&] { return Store(service_->LogSettings(*request), response); });
}

grpc::ServerUnaryReactor* GrpcInferenceService::TraceSetting(
    grpc::CallbackServerContext* context, const inference::TraceSettingRequest* request,
    inference::TraceSettingResponse* response) {
  return Respond(context, ApiGroup::kTrace,
                 [&] { return Store(service_->TraceSetting(*request), response); });
}

}  // namespace convd
