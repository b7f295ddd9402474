// ModelStreamInfer: one bidirectional stream carrying many inferences, as
// Triton's (tritonclient's start_stream / async_stream_infer, perf_analyzer
// --streaming). Requests are read and scheduled as they arrive, without
// waiting for earlier ones; each is answered exactly once, in completion
// order, its response carrying the request's id. Requests to a model with
// preserve_ordering reach it in the stream's order (each is scheduled
// before the next is read), so its answers come in that order. A request
// that fails (malformed, unknown model, bad shape, full queue, ...) is
// answered with error_message and the stream stays open. The stream finishes OK once the
// client has closed its side and every answer is written; a client that
// cancels has its queued requests dropped; a draining server finishes it
// UNAVAILABLE once its requests in flight are answered.
#ifndef CONVD_SERVER_GRPC_STREAM_INFER_H_
#define CONVD_SERVER_GRPC_STREAM_INFER_H_

#include <mutex>
#include <set>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "server/core/inference_service.h"

namespace convd {

// The open streams, so that a draining server can end them: without this
// an idle stream a client keeps open would hold the server's shutdown for
// its whole drain timeout.
class StreamRegistry {
 public:
  class Stream {
   public:
    virtual ~Stream() = default;
    // Finishes the stream (UNAVAILABLE) once the requests it has in flight
    // are answered; later messages are answered UNAVAILABLE meanwhile.
    virtual void Drain() = 0;
  };

  // Drains every open stream and every stream opened from now on.
  void DrainAll();
  // Called by a stream when it starts and when gRPC is done with it.
  void Add(Stream* stream);
  void Remove(Stream* stream);

 private:
  std::mutex mutex_;
  std::set<Stream*> streams_;  // guarded by mutex_
  bool draining_ = false;      // guarded by mutex_
};

// A ModelInferRequest from the raw bytes of a ModelInfer call or a stream
// message; INVALID_ARGUMENT, recorded as a rejection by `service`, when they
// are not one.
absl::StatusOr<inference::ModelInferRequest> ParseInferRequest(const grpc::ByteBuffer& raw,
                                                               InferenceService* service);

// Deletes itself when gRPC is done with the stream. `service` and
// `registry` must outlive it.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewStreamInferReactor(
    InferenceService* service, StreamRegistry* registry);

}  // namespace convd

#endif  // CONVD_SERVER_GRPC_STREAM_INFER_H_
