#include "server/http/http_status.h"

#include "server/http/json_util.h"

namespace convd {

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss: return 500;
    default: return 400;
  }
}

HttpResponse ErrorResponse(const absl::Status& status) {
  HttpResponse response;
  response.status = HttpStatusFor(status.code());
  response.body = ErrorJson(std::string(status.message()));
  return response;
}

}  // namespace convd
