// KServe v2 inference requests and responses (proto/inference.proto) to
// and from convd's jobs: every check a request must pass before it is
// queued, UINT8 and image inputs to floats, tensors in system shared
// memory, the classification extension and the per-layer stats
// parameters. Protocol front ends (gRPC, HTTP) share it.
#ifndef CONVD_SERVER_CORE_INFER_CODEC_H_
#define CONVD_SERVER_CORE_INFER_CODEC_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/inference.pb.h"
#include "server/batching/job_input.h"
#include "server/batching/scheduler.h"
#include "server/core/bytes_tensor.h"
#include "server/core/served_model.h"
#include "server/core/shared_memory.h"

namespace convd {

// What a validated request asks for, beyond its input floats.
struct DecodedRequest {
  std::string id;
  int rows = 1;
  JobInput input;  // rows x input row elements, normalised
  bool want_layer_stats = false;
  int classification_k = 0;  // 0: the raw output tensor
  std::optional<std::chrono::microseconds> timeout;  // from the request, if any
  uint64_t priority_level = 0;                       // from "priority" (RequestPriorityLevel)
  std::optional<SharedMemoryRef> output_memory;      // where the output goes, if not inline
};

// Checks the request against the model's config (input name, datatype,
// shape, byte count, requested outputs, parameters) and converts its data,
// reading the input from `shared_memory` where its parameters name a
// region. Every error names the problem: INVALID_ARGUMENT, or the
// registry's errors for regions (NOT_FOUND, FAILED_PRECONDITION).
// An FP32 input sent in raw_input_contents becomes the decoded input
// without a copy: its entry is moved out of `request` (left empty); the
// rest of the request is not changed.
absl::StatusOr<DecodedRequest> DecodeInferRequest(const ServedModel& model,
                                                  inference::ModelInferRequest& request,
                                                  const SharedMemoryRegistry& shared_memory);

// Fills `response` from a finished job; an output asked for in shared
// memory is written there instead, leaving its raw_output_contents entry
// empty (INVALID_ARGUMENT when it does not fit or the client's object has
// shrunk).
absl::Status EncodeInferResponse(const ServedModel& model, const DecodedRequest& request,
                                 const InferenceJob& job, inference::ModelInferResponse& response);

}  // namespace convd

#endif  // CONVD_SERVER_CORE_INFER_CODEC_H_
