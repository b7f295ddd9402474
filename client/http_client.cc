// The Client over KServe v2 HTTP/REST: one keep-alive connection, JSON
// documents read into the gRPC messages, inference with the binary tensor
// data extension.
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/http_connection.h"
#include "client/rest_codec.h"
#include "client/transports.h"
#include "rapidjson/document.h"
#include "server/core/shared_memory_parameters.h"
#include "server/http/json_util.h"

namespace convd::client {
namespace {

// The server's {"error": "..."} body, else the body itself.
std::string ErrorMessage(const HttpResult& result) {
  rapidjson::Document json;
  json.Parse<kJsonParseFlags>(result.body.data(), result.body.size());
  if (!json.HasParseError() && json.IsObject()) {
    auto it = json.FindMember("error");
    if (it != json.MemberEnd() && it->value.IsString()) return it->value.GetString();
  }
  return result.body.empty() ? absl::StrCat("HTTP ", result.status) : result.body;
}

absl::StatusCode CodeForHttpStatus(int status) {
  switch (status) {
    case 0: return absl::StatusCode::kUnavailable;  // no response at all
    case 400: return absl::StatusCode::kInvalidArgument;
    case 404: return absl::StatusCode::kNotFound;
    case 405: return absl::StatusCode::kUnimplemented;
    case 408: case 504: return absl::StatusCode::kDeadlineExceeded;
    case 409: return absl::StatusCode::kAlreadyExists;
    case 413: return absl::StatusCode::kResourceExhausted;
    case 415: return absl::StatusCode::kInvalidArgument;
    case 429: return absl::StatusCode::kResourceExhausted;
    case 501: return absl::StatusCode::kUnimplemented;
    case 503: return absl::StatusCode::kUnavailable;
    default: return status >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kUnknown;
  }
}

absl::Status StatusFromHttp(const HttpResult& result) {
  if (result.status >= 200 && result.status < 300) return absl::OkStatus();
  return absl::Status(CodeForHttpStatus(result.status), ErrorMessage(result));
}

class HttpClient final : public Client {
 public:
  HttpClient(const ServerUrl& url, const ClientOptions& options)
      : connection_(url.host, url.port, options.timeout), headers_(options.headers) {}

  absl::StatusOr<bool> ServerLive() override { return Probe("/v2/health/live"); }
  absl::StatusOr<bool> ServerReady() override { return Probe("/v2/health/ready"); }
  absl::StatusOr<bool> ModelReady(const std::string& model, const std::string& version) override {
    return Probe(ModelPath(model, version) + "/ready");
  }

  absl::StatusOr<inference::ServerMetadataResponse> ServerMetadata() override {
    return GetJson<inference::ServerMetadataResponse>("GET", "/v2");
  }

  absl::StatusOr<inference::RepositoryIndexResponse> RepositoryIndex() override {
    HttpResult result =
        Send("POST", "/v2/repository/index", "{}", {{"Content-Type", "application/json"}});
    if (absl::Status s = StatusFromHttp(result); !s.ok()) return s;
    // The REST index is a bare array of what the gRPC message calls models.
    inference::RepositoryIndexResponse index;
    if (absl::Status s = JsonToMessage(absl::StrCat("{\"models\":", result.body, "}"), &index);
        !s.ok()) {
      return s;
    }
    return index;
  }

  absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(
      const std::string& model, const std::string& version) override {
    return GetJson<inference::ModelMetadataResponse>("GET", ModelPath(model, version));
  }

  absl::StatusOr<inference::ModelConfig> ModelConfig(const std::string& model,
                                                     const std::string& version) override {
    return GetJson<inference::ModelConfig>("GET", ModelPath(model, version) + "/config");
  }

  absl::StatusOr<inference::ModelStatisticsResponse> ModelStatistics(
      const std::string& model, const std::string& version) override {
    const std::string path =
        model.empty() ? "/v2/models/stats" : ModelPath(model, version) + "/stats";
    return GetJson<inference::ModelStatisticsResponse>("GET", path);
  }

  absl::StatusOr<inference::ModelInferResponse> Infer(
      const inference::ModelInferRequest& request) override {
    auto body = EncodeRestInferRequest(request);
    if (!body.ok()) return body.status();
    HttpResult result = Send(
        "POST", ModelPath(request.model_name(), request.model_version()) + "/infer", body->body,
        {{"Content-Type", "application/octet-stream"},
         {"Inference-Header-Content-Length", std::to_string(body->json_size)}});
    if (absl::Status s = StatusFromHttp(result); !s.ok()) return s;
    std::optional<size_t> json_size;
    if (auto it = result.headers.find("inference-header-content-length");
        it != result.headers.end()) {
      size_t size = 0;
      if (!absl::SimpleAtoi(it->second, &size)) {
        return absl::InternalError(
            absl::StrCat("bad Inference-Header-Content-Length '", it->second, "'"));
      }
      json_size = size;
    }
    std::set<std::string> shared_memory_outputs;
    for (const auto& output : request.outputs()) {
      if (InSharedMemory(output.parameters())) {
        shared_memory_outputs.insert(output.name());
      }
    }
    return DecodeRestInferResponse(result.body, json_size, shared_memory_outputs);
  }

  absl::Status LoadModel(const std::string& model, const std::string& config_json) override {
    rapidjson::StringBuffer body;
    JsonWriter writer(body);
    writer.StartObject();
    if (!config_json.empty()) {
      writer.Key("parameters");
      writer.StartObject();
      writer.Key("config");
      writer.String(config_json.data(), static_cast<rapidjson::SizeType>(config_json.size()));
      writer.EndObject();
    }
    writer.EndObject();
    return StatusFromHttp(Send(
        "POST", absl::StrCat("/v2/repository/models/", PathSegment(model), "/load"),
        std::string(body.GetString(), body.GetSize()), {{"Content-Type", "application/json"}}));
  }

  absl::Status UnloadModel(const std::string& model) override {
    return StatusFromHttp(
        Send("POST", absl::StrCat("/v2/repository/models/", PathSegment(model), "/unload"), "{}"));
  }

  absl::Status RegisterSystemSharedMemory(const std::string& name, const std::string& key,
                                          uint64_t offset, uint64_t byte_size) override {
    rapidjson::StringBuffer body;
    JsonWriter writer(body);
    writer.StartObject();
    writer.Key("key");
    writer.String(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    writer.Key("offset");
    writer.Uint64(offset);
    writer.Key("byte_size");
    writer.Uint64(byte_size);
    writer.EndObject();
    return StatusFromHttp(Send(
        "POST", absl::StrCat("/v2/systemsharedmemory/region/", PathSegment(name), "/register"),
        std::string(body.GetString(), body.GetSize()), {{"Content-Type", "application/json"}}));
  }

  absl::Status UnregisterSystemSharedMemory(const std::string& name) override {
    const std::string path = name.empty() ? "/v2/systemsharedmemory/unregister"
                                          : absl::StrCat("/v2/systemsharedmemory/region/",
                                                         PathSegment(name), "/unregister");
    return StatusFromHttp(Send("POST", path, ""));
  }

 private:
  // Every request carries the client's headers (a restricted API's key).
  HttpResult Send(const std::string& method, const std::string& path, const std::string& body = "",
                  HttpHeaders headers = {}) {
    headers.insert(headers.end(), headers_.begin(), headers_.end());
    return connection_.Send(method, path, body, headers);
  }

  // `text` as one URL path segment: unreserved characters kept, the rest
  // percent-encoded.
  static std::string PathSegment(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
      if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else {
        absl::StrAppendFormat(&out, "%%%02X", c);
      }
    }
    return out;
  }

  static std::string ModelPath(const std::string& model, const std::string& version) {
    return version.empty() ? absl::StrCat("/v2/models/", model)
                           : absl::StrCat("/v2/models/", model, "/versions/", version);
  }

  // Health endpoints answer with a status only: 200 yes, 503 no (or a
  // 404 for a model that does not exist, which is an error).
  absl::StatusOr<bool> Probe(const std::string& path) {
    HttpResult result = Send("GET", path);
    if (result.status == 200) return true;
    if (result.status == 503) return false;
    return StatusFromHttp(result);
  }

  template <typename Message>
  absl::StatusOr<Message> GetJson(const std::string& method, const std::string& path) {
    HttpResult result = Send(method, path);
    if (absl::Status s = StatusFromHttp(result); !s.ok()) return s;
    Message message;
    if (absl::Status s = JsonToMessage(result.body, &message); !s.ok()) return s;
    return message;
  }

  HttpConnection connection_;
  const HttpHeaders headers_;
};

}  // namespace

std::unique_ptr<Client> CreateHttpClient(const ServerUrl& url, const ClientOptions& options) {
  return std::make_unique<HttpClient>(url, options);
}

}  // namespace convd::client
