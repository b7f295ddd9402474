#include "server/grpc/stream_infer.h"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "proto/inference.grpc.pb.h"

namespace convd {
namespace {

using Reactor = grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;

grpc::ByteBuffer Serialize(const inference::ModelStreamInferResponse& response) {
  grpc::ByteBuffer buffer;
  bool own_buffer = false;
  // Serializing a message built here cannot fail but for its size, which
  // the inference's own limits keep far below protobuf's 2 GiB.
  grpc::SerializationTraits<inference::ModelStreamInferResponse>::Serialize(response, &buffer,
                                                                            &own_buffer)
      .IgnoreError();
  return buffer;
}

// Every decision is taken under `mutex_`, and the gRPC operation it calls
// for (StartWrite, Finish) is started after the lock is released. Finish
// comes once, when the client's side is closed (or the server drains), no
// inference is in flight, nothing is left to write and no StartRead is
// about to start; gRPC calls OnDone (which deletes the reactor) only after
// that, so callbacks of inferences in flight always find the reactor alive.
class StreamInferReactor : public Reactor, public StreamRegistry::Stream {
 public:
  StreamInferReactor(InferenceService* service, StreamRegistry* registry)
      : service_(service), registry_(registry) {
    StartRead(&read_buffer_);
    registry_->Add(this);  // may Drain at once
  }

  void Drain() override {
    Act(Decide([&] { draining_ = true; }));
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side, or the stream broke
      Act(Decide([&] { reads_done_ = true; }));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // A message that arrived as a draining stream finished: unanswerable.
      if (finished_) return;
    }
    absl::StatusOr<inference::ModelInferRequest> request =
        ParseInferRequest(read_buffer_, service_);
    if (!request.ok()) {
      inference::ModelStreamInferResponse response;
      response.set_error_message(std::string(request.status().message()));
      Act(Decide([&] { writes_.push_back(Serialize(response)); }));
    }
    // The call is registered first (Finish waits for it), then the next
    // read starts, then the inference: a short one runs on this thread
    // (inline_run_limit_microseconds), and the client's next request must
    // not wait for it to be read. A model that preserves ordering gets the
    // inference first: the next request, read on another thread, could
    // otherwise reach it first, and the model answers in the order
    // requests reach it.
    uint64_t serial = 0;
    const bool call = request.ok() && AddCall(serial);
    const bool in_order =
        call && service_->PreservesOrdering(request->model_name(), request->model_version());
    if (in_order) Schedule(serial, *request);
    // Finish waits while reads are starting (StartRead must not follow it).
    // A count, not a flag: the read started here may complete, and its
    // OnReadDone start the next one, before this call has counted its own
    // StartRead as done.
    bool read = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!finished_) {
        ++reads_starting_;
        read = true;
      }
    }
    if (read) {
      StartRead(&read_buffer_);
      Act(Decide([&] { --reads_starting_; }));
    }
    if (call && !in_order) Schedule(serial, *request);
  }

  void OnWriteDone(bool ok) override {
    Act(Decide([&] {
      writing_ = false;
      writes_.pop_front();
      if (!ok) {  // the client is gone: nothing more can be written
        broken_ = true;
        writes_.clear();
      }
    }));
  }

  void OnCancel() override {
    std::vector<std::shared_ptr<PendingInference>> to_cancel;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
      for (auto& [serial, call] : calls_) {
        if (call->pending != nullptr) to_cancel.push_back(call->pending);
      }
    }
    for (auto& pending : to_cancel) pending->Cancel();
  }

  void OnDone() override {
    registry_->Remove(this);
    delete this;
  }

 private:
  struct Call {
    inference::ModelInferResponse response;
    std::shared_ptr<PendingInference> pending;  // keeps the model version alive
  };
  struct Action {
    bool write = false;
    bool finish = false;
  };

  // Registers a call in flight, answered by Schedule's callback, and sets
  // `serial` to it; false, none, once the stream has finished (a draining
  // stream can finish while a message is being parsed, and then nothing
  // more can be written).
  bool AddCall(uint64_t& serial) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return false;
    serial = next_serial_++;
    calls_.emplace(serial, std::make_unique<Call>());
    return true;
  }

  void Schedule(uint64_t serial, inference::ModelInferRequest& request) {
    Call* call = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      call = calls_.at(serial).get();
    }
    // The callback may run inside Infer (an immediate refusal) or later on
    // an instance thread.
    std::shared_ptr<PendingInference> pending = service_->Infer(
        request, &call->response,
        [this, serial, model = request.model_name(), version = request.model_version(),
         id = request.id()](absl::Status status) {
          inference::ModelStreamInferResponse response;
          Call* call = nullptr;
          {
            std::lock_guard<std::mutex> lock(mutex_);
            call = calls_.at(serial).get();
          }
          if (status.ok()) {
            *response.mutable_infer_response() = std::move(call->response);
          } else {
            response.set_error_message(std::string(status.message()));
            response.mutable_infer_response()->set_model_name(model);
            response.mutable_infer_response()->set_model_version(version);
            response.mutable_infer_response()->set_id(id);
          }
          grpc::ByteBuffer serialized = Serialize(response);
          // Released after the lock, at the end of this callback: the
          // scheduler still holds the job, and a model version whose last
          // reference this was is handed to the repository's reaper, so
          // nothing is destroyed under the caller's feet. Holding it longer
          // would keep an unloaded version alive while the stream idles.
          std::shared_ptr<PendingInference> released;
          Act(Decide([&] {
            auto found = calls_.find(serial);
            released = std::move(found->second->pending);
            calls_.erase(found);
            if (!broken_) writes_.push_back(std::move(serialized));
          }));
        },
        // A streamed request's trace ends with the service's stages: its
        // response joins the stream's queue of writes.
        service_->SampleTrace(request.model_name()));
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = calls_.find(serial);
    if (found == calls_.end()) return;  // already answered (inside Infer)
    found->second->pending = std::move(pending);
    if (cancelled_ && found->second->pending != nullptr) found->second->pending->Cancel();
  }

  // Applies `change` under the lock, then says which gRPC operation to start.
  template <typename Change>
  Action Decide(Change change) {
    std::lock_guard<std::mutex> lock(mutex_);
    change();
    Action action;
    if (!writing_ && !writes_.empty()) {
      writing_ = true;
      action.write = true;
    } else if (!finished_ && !writing_ && writes_.empty() && calls_.empty() &&
               reads_starting_ == 0 && (reads_done_ || draining_)) {
      finished_ = true;
      action.finish = true;
    }
    return action;
  }

  void Act(const Action& action) {
    if (action.write) {
      // The front stays in the deque, unmoved, until OnWriteDone pops it.
      const grpc::ByteBuffer* front = nullptr;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        front = &writes_.front();
      }
      StartWrite(front);
    } else if (action.finish) {
      grpc::Status status = grpc::Status::OK;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (cancelled_) {
          status = grpc::Status::CANCELLED;
        } else if (!reads_done_) {
          status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "the server is shutting down; reconnect to another");
        }
      }
      Finish(status);  // may delete `this`
    }
  }

  InferenceService* const service_;
  StreamRegistry* const registry_;
  grpc::ByteBuffer read_buffer_;  // only the reading side touches it
  std::mutex mutex_;
  // Guarded by mutex_:
  std::map<uint64_t, std::unique_ptr<Call>> calls_;  // inferences in flight
  uint64_t next_serial_ = 0;
  std::deque<grpc::ByteBuffer> writes_;  // answers to write; the front is being written
  bool writing_ = false;
  bool reads_done_ = false;
  bool finished_ = false;
  bool cancelled_ = false;
  bool broken_ = false;
  bool draining_ = false;
  int reads_starting_ = 0;  // StartRead calls decided on, not yet made
};

}  // namespace

absl::StatusOr<inference::ModelInferRequest> ParseInferRequest(const grpc::ByteBuffer& raw,
                                                               InferenceService* service) {
  grpc::ByteBuffer copy(raw);  // shares the slices; Deserialize consumes its buffer
  inference::ModelInferRequest request;
  if (!grpc::SerializationTraits<inference::ModelInferRequest>::Deserialize(&copy, &request).ok()) {
    service->RecordRejected(absl::StatusCode::kInvalidArgument);
    return absl::InvalidArgumentError("request is not a valid ModelInferRequest protobuf");
  }
  return request;
}

void StreamRegistry::DrainAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  draining_ = true;
  // Each stream is alive while it is listed: Remove waits for this lock.
  for (Stream* stream : streams_) stream->Drain();
}

void StreamRegistry::Add(Stream* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  streams_.insert(stream);
  if (draining_) stream->Drain();
}

void StreamRegistry::Remove(Stream* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  streams_.erase(stream);
}

Reactor* NewStreamInferReactor(InferenceService* service, StreamRegistry* registry) {
  return new StreamInferReactor(service, registry);
}

}  // namespace convd
