// The KServe v2 REST API over the inference service: routes each request
// to the same operation the gRPC front end calls, maps JSON to and from the
// protocol messages, and errors to {"error": "..."} with the status code of
// HttpStatusFor (server/http/http_status.h).
//
//   GET  /v2                                      server metadata
//   GET  /v2/health/live | /v2/health/ready       200, or 503 when not ready
//   GET  /v2/models/{m}[/versions/{v}]            model metadata
//   GET  .../ready | .../config | .../stats       readiness, config, statistics
//   POST .../infer                                inference (JSON or binary)
//   POST .../classify                             image files in, top-k out
//   GET  /v2/models/stats                         every model's statistics
//   GET|POST /v2/repository/index                 models and their states
//   POST /v2/repository/models/{m}/load|unload    with --model-control=explicit
//   GET|POST /v2/logging                          log settings (the logging extension)
//   GET  /v2/systemsharedmemory[/region/{r}]/status       registered regions
//   POST /v2/systemsharedmemory/region/{r}/register       {"key", "offset", "byte_size"}
//   POST /v2/systemsharedmemory[/region/{r}]/unregister   one region, or all
//   .../cudasharedmemory/...   status [], unregister 200, register 501: none can be registered
//
// Thread safety: Handle may be called concurrently.
#ifndef CONVD_SERVER_HTTP_HTTP_SERVICE_H_
#define CONVD_SERVER_HTTP_HTTP_SERVICE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "server/core/api_restrictions.h"
#include "server/core/inference_service.h"
#include "server/http/http_server.h"

namespace convd {

class HttpInferenceService {
 public:
  // `service` must outlive this object and every response it sends.
  explicit HttpInferenceService(InferenceService* service, ApiRestrictions restrictions = {})
      : service_(service), restrictions_(std::move(restrictions)) {}

  // The HTTP server's screen (HttpServer::Options::screen), which must be
  // installed for `restrictions` (Triton's --http-restricted-api) to hold:
  // 403 for a request to a restricted endpoint without its header, decided
  // from the headers alone, before the body is read.
  std::optional<HttpResponse> Screen(const HttpRequest& head) const;

  // A request that has passed Screen, body read.
  void Handle(HttpRequest request, std::function<void(HttpResponse)> respond);

 private:
  // `parts`: the decoded path, v2/{system,cuda}sharedmemory/...
  HttpResponse HandleSharedMemory(const std::vector<std::string>& parts, const std::string& method,
                                  const std::string& path, const std::string& body);
  HttpResponse HandleCudaSharedMemory(const std::string& action, const std::string& name);

  InferenceService* service_;
  const ApiRestrictions restrictions_;
};

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_HTTP_SERVICE_H_
