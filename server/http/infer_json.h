// The KServe v2 REST inference body <-> the gRPC messages the inference
// service takes (proto/inference.proto), including the binary tensor data
// extension: with an Inference-Header-Content-Length header, the body is
// that many bytes of JSON followed by the inputs' raw bytes, in the order
// of the inputs that carry a "binary_data_size" parameter.
//
// Everything the JSON can get wrong is an INVALID_ARGUMENT naming the
// field; checks against the model (names, shapes, datatypes) are the
// shared request decoder's (server/core/infer_codec.h), as over gRPC.
#ifndef CONVD_SERVER_HTTP_INFER_JSON_H_
#define CONVD_SERVER_HTTP_INFER_JSON_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proto/inference.pb.h"

namespace convd {

struct RestInferRequest {
  inference::ModelInferRequest request;  // inputs in raw_input_contents
  // Outputs to return as binary data ("binary_data": true on the output,
  // or "binary_data_output": true on the request for all of them).
  bool all_outputs_binary = false;
  std::set<std::string> binary_outputs;
};

// `body` is the whole HTTP body; `json_size` the Inference-Header-Content-
// Length value when the header was sent. Model name and version come from
// the URL.
absl::StatusOr<RestInferRequest> ParseRestInferRequest(std::string_view body,
                                                       std::optional<uint64_t> json_size,
                                                       const std::string& model_name,
                                                       const std::string& model_version);

struct RestInferResponse {
  std::string body;
  // Set when some output is binary: the JSON part's size, for the
  // Inference-Header-Content-Length response header.
  std::optional<size_t> json_size;
};

// JSON for every output, or a binary_data_size parameter and the raw bytes
// appended after the JSON for the outputs asked for as binary; an output
// written to shared memory gets its name, datatype and shape only.
RestInferResponse WriteRestInferResponse(const RestInferRequest& request,
                                         const inference::ModelInferResponse& response);

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_INFER_JSON_H_
