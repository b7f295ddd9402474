// KServe v2 inference requests and responses (proto/inference.proto) to
// and from convd's jobs: every check a request must pass before it is
// queued, UINT8 and image inputs to floats, the classification extension and
// the per-layer stats parameters. Protocol front ends (gRPC, HTTP) share it.
#ifndef CONVD_SERVER_CORE_INFER_CODEC_H_
#define CONVD_SERVER_CORE_INFER_CODEC_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/inference.pb.h"
#include "server/batching/scheduler.h"
#include "server/core/bytes_tensor.h"
#include "server/core/served_model.h"

namespace convd {

// What a validated request asks for, beyond its input floats.
struct DecodedRequest {
  std::string id;
  int rows = 1;
  std::vector<float> input;  // rows x input row elements, normalised
  bool want_layer_stats = false;
  int classification_k = 0;  // 0: the raw output tensor
  std::optional<std::chrono::microseconds> timeout;  // from the request, if any
};

// Checks the request against the model's config (input name, datatype,
// shape, byte count, requested outputs, parameters) and converts its data.
// Every error is INVALID_ARGUMENT and names the problem.
absl::StatusOr<DecodedRequest> DecodeInferRequest(const ServedModel& model,
                                                  const inference::ModelInferRequest& request);

// Fills `response` from a finished job.
void EncodeInferResponse(const ServedModel& model, const DecodedRequest& request,
                         const InferenceJob& job, inference::ModelInferResponse& response);

}  // namespace convd

#endif  // CONVD_SERVER_CORE_INFER_CODEC_H_
