#include "server/http/http_service.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "rapidjson/document.h"
#include "server/http/classify.h"
#include "server/http/http_status.h"
#include "server/http/http_trace.h"
#include "server/http/infer_json.h"
#include "server/http/json_proto.h"
#include "server/http/json_util.h"
#include "server/http/settings_json.h"

namespace convd {
namespace {

HttpResponse Json(std::string body, int status = 200) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// Decodes %XX escapes of one path segment; nullopt if malformed.
std::optional<std::string> PercentDecode(absl::string_view segment) {
  std::string out;
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out.push_back(segment[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= segment.size()) return std::nullopt;
    for (int j = 1; j <= 2; ++j) {
      const char c = segment[i + j];
      const int digit = absl::ascii_isdigit(c) ? c - '0'
                        : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                        : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                 : -1;
      if (digit < 0) return std::nullopt;
      value = value * 16 + digit;
    }
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

// A model URL's tail after /v2/models/{name}[/versions/{version}].
struct ModelRoute {
  std::string name, version, action;  // action: "", ready, config, stats, infer
};

std::optional<ModelRoute> ParseModelRoute(const std::vector<std::string>& parts) {
  // parts: v2 models {name} [versions {v}] [action]
  if (parts.size() < 3) return std::nullopt;
  ModelRoute route{parts[2], "", ""};
  size_t next = 3;
  if (parts.size() >= 5 && parts[3] == "versions") {
    route.version = parts[4];
    next = 5;
  }
  if (next < parts.size()) route.action = parts[next++];
  if (next != parts.size()) return std::nullopt;
  return route;
}

// A request target's path segments, percent-decoded (the query left
// out); nullopt for a malformed escape.
std::optional<std::vector<std::string>> PathParts(const std::string& request_target) {
  const std::string target = request_target.substr(0, request_target.find('?'));
  std::vector<std::string> parts;
  for (absl::string_view segment : absl::StrSplit(target, '/', absl::SkipEmpty())) {
    std::optional<std::string> decoded = PercentDecode(segment);
    if (!decoded.has_value()) return std::nullopt;
    parts.push_back(*std::move(decoded));
  }
  return parts;
}

// The restricted-API group of a /v2 endpoint (`parts` from "v2" on), as
// Triton's --http-restricted-api names them; nullopt for a path that is no
// endpoint (answered 404 whatever the headers).
std::optional<ApiGroup> EndpointGroup(const std::vector<std::string>& parts) {
  if (parts.size() == 1) return ApiGroup::kMetadata;
  const std::string& area = parts[1];
  if (area == "health") return ApiGroup::kHealth;
  if (area == "repository") return ApiGroup::kModelRepository;
  if (area == "logging") return ApiGroup::kLogging;
  if (area == "trace") return ApiGroup::kTrace;
  if (area == "systemsharedmemory" || area == "cudasharedmemory") return ApiGroup::kSharedMemory;
  if (area != "models") return std::nullopt;
  if (parts.size() == 3 && parts[2] == "stats") return ApiGroup::kStatistics;
  if (parts.size() == 5 && parts[3] == "trace") return ApiGroup::kTrace;
  const std::optional<ModelRoute> route = ParseModelRoute(parts);
  if (!route.has_value()) return std::nullopt;
  if (route->action.empty()) return ApiGroup::kMetadata;
  if (route->action == "ready") return ApiGroup::kHealth;
  if (route->action == "config") return ApiGroup::kModelConfig;
  if (route->action == "stats") return ApiGroup::kStatistics;
  if (route->action == "infer" || route->action == "classify") return ApiGroup::kInference;
  return std::nullopt;
}

absl::StatusOr<std::optional<uint64_t>> JsonHeaderSize(const HttpRequest& request) {
  const std::string value = request.header("Inference-Header-Content-Length");
  if (value.empty()) return std::optional<uint64_t>();
  uint64_t size;
  if (!absl::SimpleAtoi(value, &size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Inference-Header-Content-Length must be a byte count; got '", value, "'"));
  }
  return std::optional<uint64_t>(size);
}

// Repository load/unload bodies: {"parameters": {...}} or nothing.
template <typename RequestT>
absl::Status ReadRepositoryParameters(const std::string& body, RequestT& request) {
  if (body.empty()) return absl::OkStatus();
  rapidjson::Document document;
  document.Parse<kJsonParseFlags>(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) {
    return absl::InvalidArgumentError("the request body must be a JSON object");
  }
  auto params = document.FindMember("parameters");
  if (params == document.MemberEnd()) return absl::OkStatus();
  if (!params->value.IsObject()) {
    return absl::InvalidArgumentError("'parameters' must be an object");
  }
  for (const auto& param : params->value.GetObject()) {
    auto& out = (*request.mutable_parameters())[param.name.GetString()];
    if (param.value.IsBool()) {
      out.set_bool_param(param.value.GetBool());
    } else if (param.value.IsInt64()) {
      out.set_int64_param(param.value.GetInt64());
    } else if (param.value.IsString()) {
      out.set_string_param(param.value.GetString());
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameter '", param.name.GetString(), "' must be a bool, integer or string"));
    }
  }
  return absl::OkStatus();
}

HttpResponse NoSuchEndpoint(const std::string& method, const std::string& path) {
  return Json(ErrorJson(absl::StrCat("no such endpoint: ", method, " ", path)), 404);
}

HttpResponse MethodNotAllowed(const std::string& method, const std::string& path,
                              const std::string& allowed) {
  HttpResponse response = Json(ErrorJson(absl::StrCat(method, " is not allowed on ", path,
                                                      "; use ", allowed)),
                               405);
  response.headers.emplace_back("Allow", allowed);
  return response;
}

// A system shared-memory register body: {"key", "byte_size"[, "offset"]}.
absl::StatusOr<inference::SystemSharedMemoryRegisterRequest> ParseRegisterBody(
    const std::string& name, const std::string& body) {
  rapidjson::Document document;
  document.Parse<kJsonParseFlags>(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) {
    return absl::InvalidArgumentError(
        "the request body must be a JSON object {\"key\", \"offset\", \"byte_size\"}");
  }
  inference::SystemSharedMemoryRegisterRequest request;
  request.set_name(name);
  auto key = document.FindMember("key");
  if (key == document.MemberEnd() || !key->value.IsString()) {
    return absl::InvalidArgumentError("register needs a string 'key'");
  }
  request.set_key(std::string(key->value.GetString(), key->value.GetStringLength()));
  auto size = document.FindMember("byte_size");
  if (size == document.MemberEnd() || !size->value.IsUint64()) {
    return absl::InvalidArgumentError("register needs a non-negative integer 'byte_size'");
  }
  request.set_byte_size(size->value.GetUint64());
  if (auto offset = document.FindMember("offset"); offset != document.MemberEnd()) {
    if (!offset->value.IsUint64()) {
      return absl::InvalidArgumentError("'offset' must be a non-negative integer");
    }
    request.set_offset(offset->value.GetUint64());
  }
  return request;
}

// State shared with an inference's completion callback.
struct InferCall {
  RestInferRequest request;
  inference::ModelInferResponse response;
  std::function<void(HttpResponse)> respond;
  std::shared_ptr<RequestTrace> trace;  // null unless traced
};

}  // namespace

std::optional<HttpResponse> HttpInferenceService::Screen(const HttpRequest& head) const {
  const std::optional<std::vector<std::string>> parts = PathParts(head.target);
  if (!parts.has_value() || parts->empty() || (*parts)[0] != "v2") return std::nullopt;
  const std::optional<ApiGroup> group = EndpointGroup(*parts);
  if (!group.has_value()) return std::nullopt;
  const absl::Status allowed =
      restrictions_.Check(*group, [&](absl::string_view name) -> std::optional<std::string> {
        std::string value = head.header(std::string(name));
        if (value.empty()) return std::nullopt;
        return value;
      });
  if (allowed.ok()) return std::nullopt;
  if (*group == ApiGroup::kInference) service_->RecordRejected(allowed.code());
  return ErrorResponse(allowed);
}

void HttpInferenceService::Handle(HttpRequest request,
                                  std::function<void(HttpResponse)> respond) {
  const std::string target = request.target.substr(0, request.target.find('?'));
  const std::optional<std::vector<std::string>> decoded_parts = PathParts(request.target);
  if (!decoded_parts.has_value()) {
    return respond(Json(ErrorJson(absl::StrCat("malformed URL path '", target, "'")), 400));
  }
  const std::vector<std::string>& parts = *decoded_parts;
  const std::string& path = target;
  const std::string& method = request.method;
  const bool get = method == "GET";
  const bool post = method == "POST";
  auto not_found = [&] { respond(NoSuchEndpoint(method, path)); };
  if (parts.empty() || parts[0] != "v2") return not_found();

  if (parts.size() == 1) {
    if (!get) return respond(MethodNotAllowed(method, path, "GET"));
    return respond(Json(ProtoToJson(service_->ServerMetadata())));
  }
  if (parts[1] == "health" && parts.size() == 3 && (parts[2] == "live" || parts[2] == "ready")) {
    if (!get) return respond(MethodNotAllowed(method, path, "GET"));
    const bool ok = parts[2] == "live" ? service_->Live() : service_->Ready();
    return respond(Json("", ok ? 200 : 503));
  }
  if (parts[1] == "repository") {
    if (parts.size() == 3 && parts[2] == "index") {
      if (!get && !post) return respond(MethodNotAllowed(method, path, "GET, POST"));
      const inference::RepositoryIndexResponse index =
          service_->RepositoryIndex(inference::RepositoryIndexRequest());
      std::vector<std::string> models;
      for (const auto& model : index.models()) models.push_back(ProtoToJson(model));
      return respond(Json(absl::StrCat("[", absl::StrJoin(models, ","), "]")));
    }
    if (parts.size() == 5 && parts[2] == "models" && (parts[4] == "load" || parts[4] == "unload")) {
      if (!post) return respond(MethodNotAllowed(method, path, "POST"));
      absl::Status status;
      if (parts[4] == "load") {
        inference::RepositoryModelLoadRequest load;
        load.set_model_name(parts[3]);
        status = ReadRepositoryParameters(request.body, load);
        if (status.ok()) status = service_->RepositoryModelLoad(load);
      } else {
        inference::RepositoryModelUnloadRequest unload;
        unload.set_model_name(parts[3]);
        status = ReadRepositoryParameters(request.body, unload);
        if (status.ok()) status = service_->RepositoryModelUnload(unload);
      }
      return respond(status.ok() ? Json("") : ErrorResponse(status));
    }
    return not_found();
  }
  if (parts[1] == "logging" && parts.size() == 2) {
    if (!get && !post) return respond(MethodNotAllowed(method, path, "GET, POST"));
    absl::StatusOr<inference::LogSettingsRequest> settings =
        post ? ParseLogSettings(request.body) : inference::LogSettingsRequest();
    absl::StatusOr<inference::LogSettingsResponse> now =
        settings.ok() ? service_->LogSettings(*settings)
                      : absl::StatusOr<inference::LogSettingsResponse>(settings.status());
    return respond(now.ok() ? Json(LogSettingsJson(*now)) : ErrorResponse(now.status()));
  }
  // GET|POST /v2/trace/setting and /v2/models/{m}/trace/setting.
  const bool global_trace = parts.size() == 3 && parts[1] == "trace" && parts[2] == "setting";
  if (global_trace ||
      (parts.size() == 5 && parts[1] == "models" && parts[3] == "trace" && parts[4] == "setting")) {
    if (!get && !post) return respond(MethodNotAllowed(method, path, "GET, POST"));
    const std::string model = global_trace ? "" : parts[2];
    absl::StatusOr<inference::TraceSettingRequest> settings =
        post ? ParseTraceSettings(request.body, model) : ParseTraceSettings("", model);
    absl::StatusOr<inference::TraceSettingResponse> now =
        settings.ok() ? service_->TraceSetting(*settings)
                      : absl::StatusOr<inference::TraceSettingResponse>(settings.status());
    return respond(now.ok() ? Json(TraceSettingsJson(*now)) : ErrorResponse(now.status()));
  }
  if (parts[1] == "systemsharedmemory" || parts[1] == "cudasharedmemory") {
    return respond(HandleSharedMemory(parts, method, path, request.body));
  }
  if (parts[1] != "models") return not_found();
  if (parts.size() == 3 && parts[2] == "stats") {
    if (!get) return respond(MethodNotAllowed(method, path, "GET"));
    auto stats = service_->ModelStatistics(inference::ModelStatisticsRequest());
    return respond(stats.ok() ? Json(ProtoToJson(*stats)) : ErrorResponse(stats.status()));
  }
  std::optional<ModelRoute> route = ParseModelRoute(parts);
  if (!route.has_value()) return not_found();

  if (route->action == "classify") {
    if (!post) return respond(MethodNotAllowed(method, path, "POST"));
    return HandleClassify(service_, route->name, route->version, request, std::move(respond));
  }
  if (route->action == "infer") {
    if (!post) return respond(MethodNotAllowed(method, path, "POST"));
    absl::StatusOr<std::optional<uint64_t>> json_size = JsonHeaderSize(request);
    absl::StatusOr<RestInferRequest> parsed =
        json_size.ok()
            ? ParseRestInferRequest(request.body, *json_size, route->name, route->version)
            : absl::StatusOr<RestInferRequest>(json_size.status());
    if (!parsed.ok()) {
      service_->RecordRejected(parsed.status().code());
      return respond(ErrorResponse(parsed.status()));
    }
    auto call = std::make_shared<InferCall>();
    call->request = *std::move(parsed);
    call->respond = std::move(respond);
    call->trace = StartHttpTrace(*service_, route->name, request);
    service_->Infer(
        call->request.request, &call->response,
        [call](absl::Status status) {
          HttpResponse response;
          if (status.ok()) {
            RestInferResponse encoded = WriteRestInferResponse(call->request, call->response);
            response = Json(std::move(encoded.body));
            if (encoded.json_size.has_value()) {
              response.content_type = "application/octet-stream";
              response.headers.emplace_back("Inference-Header-Content-Length",
                                            std::to_string(*encoded.json_size));
            }
          } else {
            response = ErrorResponse(status);
          }
          TraceHttpSend(std::move(call->trace), response);
          call->respond(std::move(response));
        },
        call->trace);
    return;
  }
  if (!get) return respond(MethodNotAllowed(method, path, "GET"));
  if (route->action.empty()) {
    inference::ModelMetadataRequest metadata;
    metadata.set_name(route->name);
    metadata.set_version(route->version);
    auto result = service_->ModelMetadata(metadata);
    return respond(result.ok() ? Json(ProtoToJson(*result)) : ErrorResponse(result.status()));
  }
  if (route->action == "ready") {
    inference::ModelReadyRequest ready;
    ready.set_name(route->name);
    ready.set_version(route->version);
    auto result = service_->ModelReady(ready);
    if (!result.ok()) return respond(ErrorResponse(result.status()));
    return respond(Json("", *result ? 200 : 503));
  }
  if (route->action == "config") {
    inference::ModelConfigRequest config;
    config.set_name(route->name);
    config.set_version(route->version);
    auto result = service_->ModelConfig(config);
    // Triton's REST API returns the config itself, not wrapped.
    return respond(result.ok() ? Json(ProtoToJson(result->config()))
                               : ErrorResponse(result.status()));
  }
  if (route->action == "stats") {
    inference::ModelStatisticsRequest stats;
    stats.set_name(route->name);
    stats.set_version(route->version);
    auto result = service_->ModelStatistics(stats);
    return respond(result.ok() ? Json(ProtoToJson(*result)) : ErrorResponse(result.status()));
  }
  not_found();
}

// CUDA shared memory, where convd registers nothing (InferenceService).
HttpResponse HttpInferenceService::HandleCudaSharedMemory(const std::string& action,
                                                          const std::string& name) {
  if (action == "register") return ErrorResponse(service_->CudaSharedMemoryRegister());
  if (action == "unregister") {
    inference::CudaSharedMemoryUnregisterRequest request;
    request.set_name(name);
    const absl::Status result = service_->CudaSharedMemoryUnregister(request);
    return result.ok() ? Json("") : ErrorResponse(result);
  }
  inference::CudaSharedMemoryStatusRequest request;
  request.set_name(name);
  auto status = service_->CudaSharedMemoryStatus(request);
  return status.ok() ? Json("[]") : ErrorResponse(status.status());
}

// v2/{system,cuda}sharedmemory[/region/{name}]/{status,register,unregister}
HttpResponse HttpInferenceService::HandleSharedMemory(const std::vector<std::string>& parts,
                                                      const std::string& method,
                                                      const std::string& path,
                                                      const std::string& body) {
  const bool named = parts.size() == 5 && parts[2] == "region";
  const std::string& action = parts.back();
  if ((!named && parts.size() != 3) ||
      (action != "status" && action != "register" && action != "unregister")) {
    return NoSuchEndpoint(method, path);
  }
  const std::string name = named ? parts[3] : "";
  const char* allowed = action == "status" ? "GET" : "POST";
  if (action == "register" && !named) {
    return Json(ErrorJson("register a region at v2/systemsharedmemory/region/{name}/register"),
                404);
  }
  if (method != allowed) return MethodNotAllowed(method, path, allowed);
  if (parts[1] == "cudasharedmemory") return HandleCudaSharedMemory(action, name);
  if (action == "status") {
    inference::SystemSharedMemoryStatusRequest status_request;
    status_request.set_name(name);
    auto status = service_->SystemSharedMemoryStatus(status_request);
    if (!status.ok()) return ErrorResponse(status.status());
    std::vector<std::string> regions;
    for (const auto& [region_name, region] : status->regions()) {
      regions.push_back(ProtoToJson(region));
    }
    return Json(absl::StrCat("[", absl::StrJoin(regions, ","), "]"));
  }
  absl::Status result;
  if (action == "register") {
    auto register_request = ParseRegisterBody(name, body);
    result = register_request.ok() ? service_->SystemSharedMemoryRegister(*register_request)
                                   : register_request.status();
  } else {
    inference::SystemSharedMemoryUnregisterRequest unregister;
    unregister.set_name(name);
    result = service_->SystemSharedMemoryUnregister(unregister);
  }
  return result.ok() ? Json("") : ErrorResponse(result);
}

}  // namespace convd
