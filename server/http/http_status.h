// The one conversion from absl::Status to an HTTP status code (KServe v2
// REST): NOT_FOUND 404, UNAVAILABLE 503, UNIMPLEMENTED 501, DEADLINE_EXCEEDED
// 504, INTERNAL/UNKNOWN/DATA_LOSS 500, RESOURCE_EXHAUSTED 429, every other
// error 400 (a problem with the request).
#ifndef CONVD_SERVER_HTTP_HTTP_STATUS_H_
#define CONVD_SERVER_HTTP_HTTP_STATUS_H_

#include "absl/status/status.h"
#include "server/http/http_server.h"

namespace convd {

int HttpStatusFor(absl::StatusCode code);

// {"error": status.message()} with HttpStatusFor(status.code()).
HttpResponse ErrorResponse(const absl::Status& status);

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_HTTP_STATUS_H_
