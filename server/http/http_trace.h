// A traced HTTP request's own stages (server/core/trace.h): receiving the
// request, and writing its response.
#ifndef CONVD_SERVER_HTTP_HTTP_TRACE_H_
#define CONVD_SERVER_HTTP_HTTP_TRACE_H_

#include <memory>
#include <string>
#include <utility>

#include "server/core/inference_service.h"
#include "server/core/trace.h"
#include "server/http/http_server.h"

namespace convd {

// A trace for an inference request to `model` when it is one to trace,
// holding HTTP_RECV_START and HTTP_RECV_END; else null.
inline std::shared_ptr<RequestTrace> StartHttpTrace(InferenceService& service,
                                                    const std::string& model,
                                                    const HttpRequest& request) {
  std::shared_ptr<RequestTrace> trace = service.SampleTrace(model);
  if (trace != nullptr) {
    trace->Timestamp(trace_stage::kHttpRecvStart, request.header_read);
    trace->Timestamp(trace_stage::kHttpRecvEnd, request.body_read);
  }
  return trace;
}

// Has the response's write recorded in `trace` (HTTP_SEND_START and
// HTTP_SEND_END), which it holds until then.
inline void TraceHttpSend(std::shared_ptr<RequestTrace> trace, HttpResponse& response) {
  if (trace == nullptr) return;
  response.on_written = [trace = std::move(trace)](HttpRequest::TimePoint start,
                                                   HttpRequest::TimePoint end) {
    trace->Timestamp(trace_stage::kHttpSendStart, start);
    trace->Timestamp(trace_stage::kHttpSendEnd, end);
  };
}

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_HTTP_TRACE_H_
