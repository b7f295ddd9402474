// One sampled inference request's trace, and the file traces go to, in
// Triton's trace format ("JSON Trace Output" in Triton's trace guide), so
// that tools written for Triton's traces (its trace_summary.py) read
// convd's. A trace file is a JSON array of objects, each naming its trace
// by "id":
//   {"id": 7, "model_name": "lenet5", "model_version": 1, "request_id": "r1"}
//   {"id": 7, "timestamps": [{"name": "QUEUE_START", "ns": 2356425054791517}]}
//   {"id": 7, "activity": "TENSOR_QUEUE_INPUT",
//    "tensor": {"name": "input", "data": "0.5,0.25,...", "shape": "1,1,28,28", "dtype": "FP32"}}
// one timestamp per object, in time order; "ns" is steady_clock's count
// (CLOCK_MONOTONIC), as Triton's, so only differences mean anything.
//
// Which requests are traced, and how often files are written, is the
// Tracer's business (server/core/tracer.h).
#ifndef CONVD_SERVER_CORE_TRACE_H_
#define CONVD_SERVER_CORE_TRACE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace convd {

// Trace levels, as bits: what a sampled request records.
enum TraceLevel : uint32_t {
  kTraceOff = 0,
  kTraceTimestamps = 1,  // the time each stage starts and ends
  kTraceTensors = 2,     // the input the model ran on and the output it gave
};

// Stage names, as Triton writes them. A request's trace holds those of the
// stages it reached, of its protocol:
//   HTTP_RECV_START/END     the header parsed .. the body read and decoded
//   GRPC_WAIT_READ_START/END  the call started .. the request parsed
//   REQUEST_START           the inference service has the request
//   QUEUE_START             queued in its model's batcher
//   COMPUTE_START           its batch starts: gathering inputs
//   COMPUTE_INPUT_END       inputs gathered (and copied to the GPU)
//   COMPUTE_OUTPUT_START    the forward pass is done
//   COMPUTE_END             outputs scattered to the batch's requests
//   INFER_RESPONSE_COMPLETE the response message is filled
//   REQUEST_END             the inference service is done with it
//   HTTP_SEND_START/END, GRPC_SEND_START/END  the response written
namespace trace_stage {
inline constexpr char kHttpRecvStart[] = "HTTP_RECV_START";
inline constexpr char kHttpRecvEnd[] = "HTTP_RECV_END";
inline constexpr char kHttpSendStart[] = "HTTP_SEND_START";
inline constexpr char kHttpSendEnd[] = "HTTP_SEND_END";
inline constexpr char kGrpcWaitReadStart[] = "GRPC_WAIT_READ_START";
inline constexpr char kGrpcWaitReadEnd[] = "GRPC_WAIT_READ_END";
inline constexpr char kGrpcSendStart[] = "GRPC_SEND_START";
inline constexpr char kGrpcSendEnd[] = "GRPC_SEND_END";
inline constexpr char kRequestStart[] = "REQUEST_START";
inline constexpr char kQueueStart[] = "QUEUE_START";
inline constexpr char kComputeStart[] = "COMPUTE_START";
inline constexpr char kComputeInputEnd[] = "COMPUTE_INPUT_END";
inline constexpr char kComputeOutputStart[] = "COMPUTE_OUTPUT_START";
inline constexpr char kComputeEnd[] = "COMPUTE_END";
inline constexpr char kInferResponseComplete[] = "INFER_RESPONSE_COMPLETE";
inline constexpr char kRequestEnd[] = "REQUEST_END";
}  // namespace trace_stage

// Where traces go: `file` (the whole array, written once, when the sink
// is destroyed) for traces sampled with a log frequency of 0, else
// `file`.0, `file`.1, ...: one file each time a scope (the global
// settings, or one model's) has gathered its log frequency's worth, and
// one more at the end for what is left. Each file is written whole under a
// temporary name and renamed, so a reader never sees half of one. Files
// are written by a thread of the sink's own, so that no request waits for
// the disk.
//
// Thread safety: Add may be called concurrently.
class TraceSink {
 public:
  explicit TraceSink(std::string file);
  ~TraceSink();  // writes every trace not yet written, then joins its thread

  const std::string& file() const { return file_; }

  // One finished trace's JSON objects (comma-separated, no brackets),
  // gathered under `scope`.
  void Add(const std::string& scope, uint32_t log_frequency, std::string objects);
  // Returns once every file due so far has been written.
  void WaitForWrites();

 private:
  struct Pending {
    std::string objects;  // comma-separated
    uint32_t traces = 0;
  };
  // The writer thread: writes each queued file until stopped and drained.
  void WriteFiles();
  // Queues "[objects]" for `path`.
  void QueueLocked(std::string path, std::string objects);
  std::string NextIndexedPath();

  const std::string file_;
  std::mutex mutex_;
  std::condition_variable changed_;  // to_write_, writing_ or stopping_
  // Guarded by mutex_:
  uint64_t next_index_ = 0;
  // Traces sampled with a log frequency of 0, for `file` at the end.
  Pending whole_file_;
  // The others, by scope.
  std::map<std::string, Pending> by_scope_;
  // Files to write: path, then the objects.
  std::deque<std::pair<std::string, std::string>> to_write_;
  bool writing_ = false;  // a file taken from to_write_ is being written
  bool stopping_ = false;
  std::thread writer_;
};

// The trace of one sampled request. Every method may be called from any
// thread; the trace goes to its sink when the last reference is dropped,
// so each stage of a request holds it for as long as it has something to
// add (the transport until its response is written).
class RequestTrace {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  RequestTrace(uint64_t id, uint32_t level, std::shared_ptr<TraceSink> sink, std::string scope,
               uint32_t log_frequency);
  ~RequestTrace();
  RequestTrace(const RequestTrace&) = delete;
  RequestTrace& operator=(const RequestTrace&) = delete;

  uint64_t id() const { return id_; }
  // Whether the input and output tensors are wanted (kTraceTensors).
  bool wants_tensors() const { return (level_ & kTraceTensors) != 0; }

  // `version` -1: not known (the request named no model convd serves).
  void SetModel(absl::string_view name, int64_t version);
  void SetRequestId(absl::string_view request_id);
  // Recorded at kTraceTimestamps, else ignored.
  void Timestamp(const char* stage, TimePoint at);
  // Recorded at kTraceTensors, else ignored. `activity`:
  // "TENSOR_QUEUE_INPUT" or "TENSOR_BACKEND_OUTPUT".
  void Tensor(const char* activity, absl::string_view name, absl::Span<const int64_t> shape,
              absl::Span<const float> data);

 private:
  struct TensorRecord {
    const char* activity;
    std::string name;
    std::string shape;  // "1,1,28,28"
    std::string data;   // "0.5,0.25,..."
  };
  std::string ToJsonObjects() const;

  const uint64_t id_;
  const uint32_t level_;
  const std::shared_ptr<TraceSink> sink_;
  const std::string scope_;
  const uint32_t log_frequency_;
  mutable std::mutex mutex_;
  // Guarded by mutex_:
  std::string model_name_;
  int64_t model_version_ = -1;
  std::string request_id_;
  std::vector<std::pair<const char*, int64_t>> timestamps_;
  std::vector<TensorRecord> tensors_;
};

}  // namespace convd

#endif  // CONVD_SERVER_CORE_TRACE_H_
