// The KServe v2 GRPCInferenceService on gRPC's callback API: thin handlers
// over InferenceService (decode is done by protobuf, then call, convert the
// status, finish). ModelInfer holds no thread while its request waits in a
// queue, and a client that cancels (or whose deadline passes) has its
// request dropped from the queue. ModelInfer and ModelStreamInfer take the
// raw bytes and parse them themselves: gRPC's own parse failure would answer
// UNIMPLEMENTED (or end the stream), where a malformed request deserves
// INVALID_ARGUMENT (and the stream goes on).
#ifndef CONVD_SERVER_GRPC_GRPC_SERVICE_H_
#define CONVD_SERVER_GRPC_GRPC_SERVICE_H_

#include "proto/inference.grpc.pb.h"
#include "server/core/api_restrictions.h"
#include "server/core/inference_service.h"
#include "server/grpc/stream_infer.h"

namespace convd {

namespace grpc_service_internal {
using G = inference::GRPCInferenceService;
// Every method on the callback API; the two inference methods raw. (A raw
// streaming method cannot be layered over CallbackService, which declares
// the typed one with the same parameters.)
using Base = G::WithCallbackMethod_ServerLive<
    G::WithCallbackMethod_ServerReady<G::WithCallbackMethod_ModelReady<
        G::WithCallbackMethod_ServerMetadata<G::WithCallbackMethod_ModelMetadata<
            G::WithRawCallbackMethod_ModelInfer<G::WithRawCallbackMethod_ModelStreamInfer<
                G::WithCallbackMethod_ModelConfig<G::WithCallbackMethod_ModelStatistics<
                    G::WithCallbackMethod_RepositoryIndex<G::WithCallbackMethod_RepositoryModelLoad<
                        G::WithCallbackMethod_RepositoryModelUnload<
                            G::WithCallbackMethod_SystemSharedMemoryStatus<
                                G::WithCallbackMethod_SystemSharedMemoryRegister<
                                    G::WithCallbackMethod_SystemSharedMemoryUnregister<
                                        G::WithCallbackMethod_CudaSharedMemoryStatus<
                                            G::WithCallbackMethod_CudaSharedMemoryRegister<
                                                G::WithCallbackMethod_CudaSharedMemoryUnregister<
                                                    G::WithCallbackMethod_LogSettings<
                                                        G::WithCallbackMethod_TraceSetting<
                                                            G::Service>>>>>>>>>>>>>>>>>>>>;
}  // namespace grpc_service_internal

class GrpcInferenceService final : public grpc_service_internal::Base {
 public:
  // `service` must outlive this. Every method checks `restrictions`
  // (Triton's --grpc-restricted-protocol) before it handles the call.
  explicit GrpcInferenceService(InferenceService* service, ApiRestrictions restrictions = {})
      : service_(service), restrictions_(std::move(restrictions)) {}

  // Part of draining (after InferenceService::BeginDrain): ends every
  // ModelStreamInfer stream, now open or opened later, once its requests
  // in flight are answered, so that idle streams do not hold the shutdown.
  void EndStreams() { streams_.DrainAll(); }

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest* request,
                                       inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const inference::ServerReadyRequest* request,
                                        inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest* request,
                                           inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  // server/grpc/stream_infer.h
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ModelStreamInfer(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context,
                                        const inference::ModelConfigRequest* request,
                                        inference::ModelConfigResponse* response) override;
  grpc::ServerUnaryReactor* ModelStatistics(
      grpc::CallbackServerContext* context, const inference::ModelStatisticsRequest* request,
      inference::ModelStatisticsResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryIndex(
      grpc::CallbackServerContext* context, const inference::RepositoryIndexRequest* request,
      inference::RepositoryIndexResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelLoad(
      grpc::CallbackServerContext* context, const inference::RepositoryModelLoadRequest* request,
      inference::RepositoryModelLoadResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelUnload(
      grpc::CallbackServerContext* context,
      const inference::RepositoryModelUnloadRequest* request,
      inference::RepositoryModelUnloadResponse* response) override;
  grpc::ServerUnaryReactor* SystemSharedMemoryStatus(
      grpc::CallbackServerContext* context,
      const inference::SystemSharedMemoryStatusRequest* request,
      inference::SystemSharedMemoryStatusResponse* response) override;
  grpc::ServerUnaryReactor* SystemSharedMemoryRegister(
      grpc::CallbackServerContext* context,
      const inference::SystemSharedMemoryRegisterRequest* request,
      inference::SystemSharedMemoryRegisterResponse* response) override;
  grpc::ServerUnaryReactor* SystemSharedMemoryUnregister(
      grpc::CallbackServerContext* context,
      const inference::SystemSharedMemoryUnregisterRequest* request,
      inference::SystemSharedMemoryUnregisterResponse* response) override;
  grpc::ServerUnaryReactor* CudaSharedMemoryStatus(
      grpc::CallbackServerContext* context, const inference::CudaSharedMemoryStatusRequest* request,
      inference::CudaSharedMemoryStatusResponse* response) override;
  grpc::ServerUnaryReactor* CudaSharedMemoryRegister(
      grpc::CallbackServerContext* context,
      const inference::CudaSharedMemoryRegisterRequest* request,
      inference::CudaSharedMemoryRegisterResponse* response) override;
  grpc::ServerUnaryReactor* CudaSharedMemoryUnregister(
      grpc::CallbackServerContext* context,
      const inference::CudaSharedMemoryUnregisterRequest* request,
      inference::CudaSharedMemoryUnregisterResponse* response) override;
  grpc::ServerUnaryReactor* LogSettings(grpc::CallbackServerContext* context,
                                        const inference::LogSettingsRequest* request,
                                        inference::LogSettingsResponse* response) override;
  grpc::ServerUnaryReactor* TraceSetting(grpc::CallbackServerContext* context,
                                         const inference::TraceSettingRequest* request,
                                         inference::TraceSettingResponse* response) override;

 private:
  // OK, or PERMISSION_DENIED where `group` is restricted and the call's
  // metadata lacks its header and value.
  absl::Status Allowed(grpc::CallbackServerContext* context, ApiGroup group) const;
  // Finishes a unary call: refused where `group` is restricted to others,
  // else with the status `body` returns (having filled the response).
  template <typename Body>
  grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* context, ApiGroup group,
                                    Body&& body);

  InferenceService* service_;
  const ApiRestrictions restrictions_;
  StreamRegistry streams_;
};

}  // namespace convd

#endif  // CONVD_SERVER_GRPC_GRPC_SERVICE_H_
