// Encoded images as an inference input: a BYTES input of shape [N] or
// [N, 1] whose elements are PNG or JPEG files, one image per batch row.
// Each is decoded (server/image), converted to the model's channels (grey
// or RGB), resized to its input height and width, and normalised as the
// input config says, as UINT8 tensors are.
#ifndef CONVD_SERVER_CORE_IMAGE_INPUT_H_
#define CONVD_SERVER_CORE_IMAGE_INPUT_H_

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "proto/inference.pb.h"
#include "server/core/infer_codec.h"
#include "server/core/served_model.h"

namespace convd {

// Fills decoded.rows and decoded.input from `raw`, the serialized BYTES
// tensor (raw_input_contents or shared memory), or without it from the
// input's bytes_contents. INVALID_ARGUMENT names the image (its index)
// and the problem.
absl::Status DecodeImageInput(const ServedModel& model, const inference::ModelInferRequest& request,
                              std::optional<std::string_view> raw, DecodedRequest& decoded);

}  // namespace convd

#endif  // CONVD_SERVER_CORE_IMAGE_INPUT_H_
