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
grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     absl::StatusOr<T> result, T* response) {
  if (result.ok()) *response = std::move(*result);
  return Finish(context, result.status());
}

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

grpc::ServerUnaryReactor* GrpcInferenceService::ServerLive(
    grpc::CallbackServerContext* context, const inference::ServerLiveRequest*,
    inference::ServerLiveResponse* response) {
  response->set_live(service_->Live());
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerReady(
    grpc::CallbackServerContext* context, const inference::ServerReadyRequest*,
    inference::ServerReadyResponse* response) {
  response->set_ready(service_->Ready());
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelReady(
    grpc::CallbackServerContext* context, const inference::ModelReadyRequest* request,
    inference::ModelReadyResponse* response) {
  absl::StatusOr<bool> ready = service_->ModelReady(*request);
  if (ready.ok()) response->set_ready(*ready);
  return Finish(context, ready.status());
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerMetadata(
    grpc::CallbackServerContext* context, const inference::ServerMetadataRequest*,
    inference::ServerMetadataResponse* response) {
  *response = service_->ServerMetadata();
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelMetadata(
    grpc::CallbackServerContext* context, const inference::ModelMetadataRequest* request,
    inference::ModelMetadataResponse* response) {
  return FinishWith(context, service_->ModelMetadata(*request), response);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelInfer(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return new InferReactor(service_, request, response);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GrpcInferenceService::ModelStreamInfer(
    grpc::CallbackServerContext*) {
  return NewStreamInferReactor(service_, &streams_);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelConfig(
    grpc::CallbackServerContext* context, const inference::ModelConfigRequest* request,
    inference::ModelConfigResponse* response) {
  return FinishWith(context, service_->ModelConfig(*request), response);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelStatistics(
    grpc::CallbackServerContext* context, const inference::ModelStatisticsRequest* request,
    inference::ModelStatisticsResponse* response) {
  return FinishWith(context, service_->ModelStatistics(*request), response);
}

grpc::ServerUnaryReactor* GrpcInferenceService::RepositoryIndex(
    grpc::CallbackServerContext* context, const inference::RepositoryIndexRequest* request,
    inference::RepositoryIndexResponse* response) {
  *response = service_->RepositoryIndex(*request);
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* GrpcInferenceService::RepositoryModelLoad(
    grpc::CallbackServerContext* context, const inference::RepositoryModelLoadRequest* request,
    inference::RepositoryModelLoadResponse*) {
  return Finish(context, service_->RepositoryModelLoad(*request));
}

grpc::ServerUnaryReactor* GrpcInferenceService::RepositoryModelUnload(
    grpc::CallbackServerContext* context, const inference::RepositoryModelUnloadRequest* request,
    inference::RepositoryModelUnloadResponse*) {
  return Finish(context, service_->RepositoryModelUnload(*request));
}

grpc::ServerUnaryReactor* GrpcInferenceService::SystemSharedMemoryStatus(
    grpc::CallbackServerContext* context, const inference::SystemSharedMemoryStatusRequest* request,
    inference::SystemSharedMemoryStatusResponse* response) {
  return FinishWith(context, service_->SystemSharedMemoryStatus(*request), response);
}

grpc::ServerUnaryReactor* GrpcInferenceService::SystemSharedMemoryRegister(
    grpc::CallbackServerContext* context,
    const inference::SystemSharedMemoryRegisterRequest* request,
    inference::SystemSharedMemoryRegisterResponse*) {
  return Finish(context, service_->SystemSharedMemoryRegister(*request));
}

grpc::ServerUnaryReactor* GrpcInferenceService::SystemSharedMemoryUnregister(
    grpc::CallbackServerContext* context,
    const inference::SystemSharedMemoryUnregisterRequest* request,
    inference::SystemSharedMemoryUnregisterResponse*) {
  return Finish(context, service_->SystemSharedMemoryUnregister(*request));
}

grpc::ServerUnaryReactor* GrpcInferenceService::CudaSharedMemoryStatus(
    grpc::CallbackServerContext* context, const inference::CudaSharedMemoryStatusRequest* request,
    inference::CudaSharedMemoryStatusResponse* response) {
  return FinishWith(context, service_->CudaSharedMemoryStatus(*request), response);
}

grpc::ServerUnaryReactor* GrpcInferenceService::CudaSharedMemoryRegister(
    grpc::CallbackServerContext* context, const inference::CudaSharedMemoryRegisterRequest*,
    inference::CudaSharedMemoryRegisterResponse*) {
  return Finish(context, service_->CudaSharedMemoryRegister());
}

grpc::ServerUnaryReactor* GrpcInferenceService::CudaSharedMemoryUnregister(
    grpc::CallbackServerContext* context,
    const inference::CudaSharedMemoryUnregisterRequest* request,
    inference::CudaSharedMemoryUnregisterResponse*) {
  return Finish(context, service_->CudaSharedMemoryUnregister(*request));
}

grpc::ServerUnaryReactor* GrpcInferenceService::LogSettings(
    grpc::CallbackServerContext* context, const inference::LogSettingsRequest* request,
    inference::LogSettingsResponse* response) {
  auto settings = service_->LogSettings(*request);
  if (settings.ok()) *response = *std::move(settings);
  return Finish(context, settings.status());
}

grpc::ServerUnaryReactor* GrpcInferenceService::TraceSetting(
    grpc::CallbackServerContext* context, const inference::TraceSettingRequest* request,
    inference::TraceSettingResponse* response) {
  return FinishWith(context, service_->TraceSetting(*request), response);
}

}  // namespace convd
