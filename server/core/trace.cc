#include "server/core/trace.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/file_util.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "server/log.h"

namespace convd {
namespace {

// Floats as the shortest text that reads back as the same float.
void AppendFloats(absl::Span<const float> data, std::string& out) {
  char buffer[32];
  for (size_t i = 0; i < data.size(); ++i) {
    if (i > 0) out.push_back(',');
    const std::to_chars_result end = std::to_chars(buffer, buffer + sizeof(buffer), data[i]);
    out.append(buffer, end.ptr);
  }
}

// `text` itself when it is valid UTF-8, else C-escaped: a request id is
// whatever bytes the client sent, and the trace file must stay JSON.
std::string Utf8OrEscaped(absl::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                    rapidjson::CrtAllocator, rapidjson::kWriteValidateEncodingFlag>
      validator(buffer);
  if (validator.String(text.data(), static_cast<rapidjson::SizeType>(text.size()))) {
    return std::string(text);
  }
  return absl::CHexEscape(text);
}

}  // namespace

TraceSink::TraceSink(std::string file)
    : file_(std::move(file)), writer_([this] { WriteFiles(); }) {}

TraceSink::~TraceSink() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (whole_file_.traces > 0) QueueLocked(file_, std::move(whole_file_.objects));
    for (auto& [scope, pending] : by_scope_) {
      if (pending.traces > 0) QueueLocked(NextIndexedPath(), std::move(pending.objects));
    }
    stopping_ = true;
  }
  changed_.notify_all();
  writer_.join();
}

void TraceSink::Add(const std::string& scope, uint32_t log_frequency, std::string objects) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Pending& pending = log_frequency == 0 ? whole_file_ : by_scope_[scope];
    if (!pending.objects.empty()) pending.objects.push_back(',');
    pending.objects.append(objects);
    ++pending.traces;
    if (log_frequency == 0 || pending.traces < log_frequency) return;
    QueueLocked(NextIndexedPath(), std::move(pending.objects));
    pending.objects.clear();
    pending.traces = 0;
  }
  changed_.notify_all();
}

std::string TraceSink::NextIndexedPath() { return absl::StrCat(file_, ".", next_index_++); }

void TraceSink::QueueLocked(std::string path, std::string objects) {
  to_write_.emplace_back(std::move(path), std::move(objects));
}

void TraceSink::WaitForWrites() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return to_write_.empty() && !writing_; });
}

void TraceSink::WriteFiles() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    writing_ = false;
    changed_.notify_all();  // for WaitForWrites
    changed_.wait(lock, [this] { return stopping_ || !to_write_.empty(); });
    if (to_write_.empty()) return;  // stopping, and nothing is left
    std::pair<std::string, std::string> next = std::move(to_write_.front());
    to_write_.pop_front();
    writing_ = true;
    lock.unlock();
    // A failure is logged, not returned: a trace that cannot be written
    // must not fail the request it traced.
    const absl::Status written =
        WriteFileAtomically(next.first, absl::StrCat("[", next.second, "]\n"));
    if (!written.ok()) Log(LogLevel::kWarning, absl::StrCat("traces lost: ", written.message()));
    lock.lock();
  }
}

RequestTrace::RequestTrace(uint64_t id, uint32_t level, std::shared_ptr<TraceSink> sink,
                           std::string scope, uint32_t log_frequency)
    : id_(id),
      level_(level),
      sink_(std::move(sink)),
      scope_(std::move(scope)),
      log_frequency_(log_frequency) {}

RequestTrace::~RequestTrace() { sink_->Add(scope_, log_frequency_, ToJsonObjects()); }

void RequestTrace::SetModel(absl::string_view name, int64_t version) {
  std::lock_guard<std::mutex> lock(mutex_);
  model_name_ = Utf8OrEscaped(name);
  model_version_ = version;
}

void RequestTrace::SetRequestId(absl::string_view request_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  request_id_ = Utf8OrEscaped(request_id);
}

void RequestTrace::Timestamp(const char* stage, TimePoint at) {
  if ((level_ & kTraceTimestamps) == 0) return;
  const int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(mutex_);
  timestamps_.emplace_back(stage, ns);
}

void RequestTrace::Tensor(const char* activity, absl::string_view name,
                          absl::Span<const int64_t> shape, absl::Span<const float> data) {
  if (!wants_tensors()) return;
  TensorRecord record{activity, std::string(name), absl::StrJoin(shape, ","), ""};
  AppendFloats(data, record.data);
  std::lock_guard<std::mutex> lock(mutex_);
  tensors_.push_back(std::move(record));
}

std::string RequestTrace::ToJsonObjects() const {
  std::lock_guard<std::mutex> lock(mutex_);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  // Objects follow one another without the array's brackets (the sink
  // adds them), so the writer is reset between them.
  std::string objects;
  auto flush = [&] {
    if (!objects.empty()) objects.push_back(',');
    objects.append(buffer.GetString(), buffer.GetSize());
    buffer.Clear();
    writer.Reset(buffer);
  };
  writer.StartObject();
  writer.Key("id");
  writer.Uint64(id_);
  writer.Key("model_name");
  writer.String(model_name_.data(), static_cast<rapidjson::SizeType>(model_name_.size()));
  writer.Key("model_version");
  writer.Int64(model_version_);
  if (!request_id_.empty()) {
    writer.Key("request_id");
    writer.String(request_id_.data(), static_cast<rapidjson::SizeType>(request_id_.size()));
  }
  writer.EndObject();
  flush();
  std::vector<std::pair<const char*, int64_t>> in_order = timestamps_;
  std::stable_sort(in_order.begin(), in_order.end(),
                   [](const auto& a, const auto& b) { return a.second < b.second; });
  for (const auto& [stage, ns] : in_order) {
    writer.StartObject();
    writer.Key("id");
    writer.Uint64(id_);
    writer.Key("timestamps");
    writer.StartArray();
    writer.StartObject();
    writer.Key("name");
    writer.String(stage);
    writer.Key("ns");
    writer.Int64(ns);
    writer.EndObject();
    writer.EndArray();
    writer.EndObject();
    flush();
  }
  for (const TensorRecord& tensor : tensors_) {
    writer.StartObject();
    writer.Key("id");
    writer.Uint64(id_);
    writer.Key("activity");
    writer.String(tensor.activity);
    writer.Key("tensor");
    writer.StartObject();
    writer.Key("name");
    writer.String(tensor.name.data(), static_cast<rapidjson::SizeType>(tensor.name.size()));
    writer.Key("data");
    writer.String(tensor.data.data(), static_cast<rapidjson::SizeType>(tensor.data.size()));
    writer.Key("shape");
    writer.String(tensor.shape.data(), static_cast<rapidjson::SizeType>(tensor.shape.size()));
    writer.Key("dtype");
    writer.String("FP32");
    writer.EndObject();
    writer.EndObject();
    flush();
  }
  return objects;
}

}  // namespace convd
