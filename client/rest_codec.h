// The client side of the KServe v2 REST inference body: requests always use
// the binary tensor data extension (inputs as raw bytes after the JSON,
// outputs asked for as binary), and responses are read whichever way the
// server wrote each output (binary_data_size, or a JSON "data" array), into
// the same ModelInferResponse a gRPC call returns (an empty
// raw_output_contents entry for an output written to shared memory).
#ifndef CONVD_CLIENT_REST_CODEC_H_
#define CONVD_CLIENT_REST_CODEC_H_

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "proto/inference.pb.h"

namespace convd::client {

struct RestRequestBody {
  std::string body;
  size_t json_size = 0;  // the Inference-Header-Content-Length header
};

// Inputs not in shared memory must be in raw_input_contents (one per such
// input, in order); tensors in shared memory carry only their parameters.
absl::StatusOr<RestRequestBody> EncodeRestInferRequest(const inference::ModelInferRequest& request);

// `json_size`: the response's Inference-Header-Content-Length, if sent.
// `shared_memory_outputs`: the outputs requested in shared memory, which
// come back without data.
absl::StatusOr<inference::ModelInferResponse> DecodeRestInferResponse(
    std::string_view body, std::optional<size_t> json_size,
    const std::set<std::string>& shared_memory_outputs = {});

// A REST JSON document (server metadata, model metadata, config, stats) into
// its gRPC message; fields this client does not know are ignored.
absl::Status JsonToMessage(std::string_view json, google::protobuf::Message* message);

}  // namespace convd::client

#endif  // CONVD_CLIENT_REST_CODEC_H_
