#include "server/core/image_input.h"

#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/pixels.h"
#include "server/image/image.h"

namespace convd {
namespace {

absl::Status Invalid(const ServedModel& model, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("model '", model.name(), "': ", what));
}

// The elements of a BYTES tensor: serialized (SplitBytesTensor) or typed
// bytes_contents.
absl::StatusOr<std::vector<std::string_view>> Elements(const ServedModel& model,
                                                       const inference::ModelInferRequest& request,
                                                       std::optional<std::string_view> raw) {
  const auto& input = request.inputs(0);
  std::vector<std::string_view> elements;
  if (!raw.has_value()) {
    for (const std::string& element : input.contents().bytes_contents()) {
      elements.push_back(element);
    }
    return elements;
  }
  if (absl::Status split = SplitBytesTensor(*raw, elements); !split.ok()) {
    return Invalid(model, absl::StrCat("input '", input.name(), "': ", split.message()));
  }
  return elements;
}

}  // namespace

absl::Status DecodeImageInput(const ServedModel& model, const inference::ModelInferRequest& request,
                              std::optional<std::string_view> raw, DecodedRequest& decoded) {
  const inference::ModelConfig& config = model.config();
  const inference::ModelInput& input_config = config.input(0);
  const auto& input = request.inputs(0);
  const auto& dims = input_config.dims();
  if (dims.size() != 3 || (dims[0] != 1 && dims[0] != 3)) {
    return Invalid(model, absl::StrCat("input '", input.name(), "' takes [",
                                       absl::StrJoin(dims, ", "), "] tensors, not images "
                                       "(images need a [1 or 3, H, W] input)"));
  }
  const int channels = static_cast<int>(dims[0]);
  const int height = static_cast<int>(dims[1]), width = static_cast<int>(dims[2]);
  const auto& shape = input.shape();
  const int max_rows = config.max_batch_size() > 0 ? config.max_batch_size() : 1;
  const bool shape_ok = (shape.size() == 1 || (shape.size() == 2 && shape[1] == 1)) &&
                        shape[0] >= 1 && shape[0] <= max_rows;
  if (!shape_ok) {
    return Invalid(model, absl::StrCat("BYTES input '", input.name(), "' has shape [",
                                       absl::StrJoin(shape, ", "), "]; images go as [N] or "
                                       "[N, 1] with N from 1 to ", max_rows));
  }
  absl::StatusOr<std::vector<std::string_view>> elements = Elements(model, request, raw);
  if (!elements.ok()) return elements.status();
  if (static_cast<int64_t>(elements->size()) != shape[0]) {
    return Invalid(model, absl::StrCat("BYTES input '", input.name(), "' has shape [",
                                       absl::StrJoin(shape, ", "), "] but holds ",
                                       elements->size(), " elements"));
  }
  decoded.rows = static_cast<int>(shape[0]);
  const int64_t per_row = int64_t{channels} * height * width;
  std::vector<float> floats(decoded.rows * per_row);
  for (int row = 0; row < decoded.rows; ++row) {
    absl::StatusOr<Image> image = DecodeImage((*elements)[row]);
    if (!image.ok()) {
      return Invalid(model, absl::StrCat("image ", row, ": ", image.status().message()));
    }
    const std::vector<uint8_t> planar = ToPlanar(*image, channels, height, width);
    NormalizePixels(input_config, planar.data(), per_row, floats.data() + row * per_row);
  }
  decoded.input = JobInput(std::move(floats));
  return absl::OkStatus();
}

}  // namespace convd
