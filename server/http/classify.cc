#include "server/http/classify.h"

#include <memory>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/core/bytes_tensor.h"
#include "server/core/classification.h"
#include "server/http/http_status.h"
#include "server/http/http_trace.h"
#include "server/http/json_util.h"
#include "server/http/multipart.h"

namespace convd {
namespace {

struct Query {
  int k = 5;
  bool stats = false;
};

absl::StatusOr<Query> ParseQuery(const std::string& target) {
  Query query;
  const size_t mark = target.find('?');
  if (mark == std::string::npos) return query;
  for (absl::string_view pair : absl::StrSplit(target.substr(mark + 1), '&', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pair, '=');
    if (kv.first == "k") {
      if (!absl::SimpleAtoi(kv.second, &query.k) || query.k < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("query parameter k must be a positive integer; got '", kv.second, "'"));
      }
    } else if (kv.first == "stats") {
      if (kv.second != "true" && kv.second != "false") {
        return absl::InvalidArgumentError("query parameter stats must be true or false");
      }
      query.stats = kv.second == "true";
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter '", kv.first, "'; use k and stats"));
    }
  }
  return query;
}

struct Upload {
  std::string filename;
  std::string_view data;
};

absl::StatusOr<std::vector<Upload>> ReadUploads(const HttpRequest& request) {
  const std::string content_type = request.header("Content-Type");
  std::vector<Upload> uploads;
  if (absl::StartsWithIgnoreCase(content_type, "multipart/")) {
    absl::StatusOr<std::string> boundary = MultipartBoundary(content_type);
    if (!boundary.ok()) return boundary.status();
    absl::StatusOr<std::vector<MultipartPart>> parts = ParseMultipart(request.body, *boundary);
    if (!parts.ok()) return parts.status();
    for (const MultipartPart& part : *parts) uploads.push_back({part.filename, part.data});
  } else {
    uploads.push_back({"", request.body});
  }
  if (uploads.empty()) return absl::InvalidArgumentError("the request holds no image");
  return uploads;
}

// State kept until the inference completes.
struct ClassifyCall {
  inference::ModelInferRequest request;
  inference::ModelInferResponse response;
  std::vector<std::string> filenames;
  std::function<void(HttpResponse)> respond;
  std::shared_ptr<RequestTrace> trace;  // null unless traced
};

void WriteResult(ClassifyCall& call, int k) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  const inference::ModelInferResponse& response = call.response;
  writer.StartObject();
  writer.Key("model_name");
  writer.String(response.model_name().c_str());
  writer.Key("model_version");
  writer.String(response.model_version().c_str());
  auto parameter = [&](const char* name) -> const inference::InferParameter* {
    auto it = response.parameters().find(name);
    return it == response.parameters().end() ? nullptr : &it->second;
  };
  if (const auto* batch = parameter("batch_size")) {
    writer.Key("batch_size");
    writer.Int64(batch->int64_param());
  }
  writer.Key("results");
  writer.StartArray();
  std::vector<std::string_view> top;  // k "score:index[:label]" per image
  if (response.raw_output_contents_size() > 0) {
    (void)SplitBytesTensor(response.raw_output_contents(0), top);  // convd's own output
  }
  size_t next = 0;
  for (size_t image = 0; image < call.filenames.size(); ++image) {
    writer.StartObject();
    writer.Key("image");
    writer.Uint64(image);
    writer.Key("filename");
    writer.String(call.filenames[image].c_str());
    writer.Key("classes");
    writer.StartArray();
    for (int i = 0; i < k && next < top.size(); ++i, ++next) {
      const std::optional<Classification> entry = ParseClassification(top[next]);
      if (!entry.has_value()) continue;
      writer.StartObject();
      writer.Key("index");
      writer.Int(entry->index);
      if (entry->label.has_value()) {
        writer.Key("label");
        writer.String(entry->label->c_str());
      }
      writer.Key("score");
      writer.Double(entry->score);
      writer.EndObject();
    }
    writer.EndArray();
    writer.EndObject();
  }
  writer.EndArray();
  if (const auto* stats = parameter("layer_stats")) {
    writer.Key("layer_stats");
    writer.RawValue(stats->string_param().data(), stats->string_param().size(),
                    rapidjson::kObjectType);
  }
  writer.EndObject();
  HttpResponse out;
  out.body.assign(buffer.GetString(), buffer.GetSize());
  TraceHttpSend(std::move(call.trace), out);
  call.respond(std::move(out));
}

}  // namespace

void HandleClassify(InferenceService* service, const std::string& model,
                    const std::string& version, const HttpRequest& request,
                    std::function<void(HttpResponse)> respond) {
  absl::StatusOr<Query> query = ParseQuery(request.target);
  if (!query.ok()) return respond(ErrorResponse(query.status()));
  inference::ModelMetadataRequest metadata_request;
  metadata_request.set_name(model);
  metadata_request.set_version(version);
  absl::StatusOr<inference::ModelMetadataResponse> metadata =
      service->ModelMetadata(metadata_request);
  if (!metadata.ok()) return respond(ErrorResponse(metadata.status()));
  absl::StatusOr<std::vector<Upload>> uploads = ReadUploads(request);
  if (!uploads.ok()) {
    service->RecordRejected(uploads.status().code());
    return respond(ErrorResponse(uploads.status()));
  }
  const int classes = static_cast<int>(metadata->outputs(0).shape().empty()
                                           ? 1
                                           : metadata->outputs(0).shape().rbegin()[0]);
  const int k = std::min(query->k, std::max(classes, 1));

  auto call = std::make_shared<ClassifyCall>();
  call->respond = std::move(respond);
  inference::ModelInferRequest& infer = call->request;
  infer.set_model_name(model);
  infer.set_model_version(version);
  auto* input = infer.add_inputs();
  input->set_name(metadata->inputs(0).name());
  input->set_datatype("BYTES");
  input->add_shape(static_cast<int64_t>(uploads->size()));
  std::string& raw = *infer.add_raw_input_contents();
  for (const Upload& upload : *uploads) {
    AppendBytesElement(upload.data, raw);
    call->filenames.push_back(upload.filename);
  }
  auto* output = infer.add_outputs();
  output->set_name(metadata->outputs(0).name());
  (*output->mutable_parameters())["classification"].set_int64_param(k);
  if (query->stats) (*infer.mutable_parameters())["layer_stats"].set_bool_param(true);
  call->trace = StartHttpTrace(*service, model, request);
  service->Infer(
      call->request, &call->response,
      [call, k](absl::Status status) {
        if (!status.ok()) {
          HttpResponse response = ErrorResponse(status);
          TraceHttpSend(std::move(call->trace), response);
          return call->respond(std::move(response));
        }
        WriteResult(*call, k);
      },
      call->trace);
}

}  // namespace convd
