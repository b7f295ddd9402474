// ModelStreamInfer: one bidirectional stream carrying many inferences, as
// Triton's (tritonclient's start_stream / async_stream_infer, perf_analyzer
// --streaming). Requests are read and scheduled as they arrive, without
// waiting for earlier ones; each is answered exactly once, in completion
// order, its response carrying the request's id. A request that fails
// (malformed, unknown model, bad shape, full queue, ...) is answered with
// error_message and the stream stays open. The stream finishes OK once the
// client has closed its side and every answer is written; a client that
// cancels has its queued requests dropped.
#ifndef CONVD_SERVER_GRPC_STREAM_INFER_H_
#define CONVD_SERVER_GRPC_STREAM_INFER_H_

#include "grpcpp/grpcpp.h"
#include "server/core/inference_service.h"

namespace convd {

// Deletes itself when gRPC is done with the stream. `service` must outlive it.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewStreamInferReactor(
    InferenceService* service);

}  // namespace convd

#endif  // CONVD_SERVER_GRPC_STREAM_INFER_H_
