// POST /v2/models/{m}[/versions/{v}]/classify: one or more image files in,
// top-k classes out. The body is one raw image (any Content-Type but
// multipart) or multipart/form-data with one file per part, as `curl -F`
// sends. Query parameters: k (default 5) and stats=true for the per-layer
// table. The images become a BYTES input (server/core/image_input.h) and
// are batched like any request.
//
//   {"model_name":"lenet5","model_version":"1","batch_size":2,
//    "results":[{"image":0,"filename":"a.png",
//                "classes":[{"index":9,"label":"Ankle boot","score":0.98},...]}],
//    "layer_stats":{...}}
#ifndef CONVD_SERVER_HTTP_CLASSIFY_H_
#define CONVD_SERVER_HTTP_CLASSIFY_H_

#include <functional>
#include <string>

#include "server/core/inference_service.h"
#include "server/http/http_server.h"

namespace convd {

void HandleClassify(InferenceService* service, const std::string& model,
                    const std::string& version, const HttpRequest& request,
                    std::function<void(HttpResponse)> respond);

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_CLASSIFY_H_
