#include "server/core/infer_codec.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/model_config.h"
#include "engine/status_macros.h"
#include "server/core/classification.h"
#include "server/core/image_input.h"
#include "server/core/pixels.h"

namespace convd {
namespace {

using inference::InferParameter;
using inference::ModelInferRequest;

absl::Status Invalid(const ServedModel& model, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("model '", model.name(), "': ", what));
}

std::string ShapeString(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The shape a request must have, as the model metadata shows it.
std::string ExpectedShape(const inference::ModelConfig& config) {
  const auto& dims = config.input(0).dims();
  if (config.max_batch_size() == 0) return ShapeString(dims);
  return absl::StrCat("[-1, ", absl::StrJoin(dims, ", "), "] with a batch of 1 to ",
                      config.max_batch_size());
}

absl::StatusOr<int> CheckShape(const ServedModel& model,
                               const ModelInferRequest::InferInputTensor& input) {
  const inference::ModelConfig& config = model.config();
  const auto& dims = config.input(0).dims();
  const auto& shape = input.shape();
  const bool batched = config.max_batch_size() > 0;
  const int offset = batched ? 1 : 0;
  bool ok = shape.size() == dims.size() + offset;
  for (int i = 0; ok && i < dims.size(); ++i) ok = shape[i + offset] == dims[i];
  if (ok && batched) ok = shape[0] >= 1 && shape[0] <= config.max_batch_size();
  if (!ok) {
    return Invalid(model, absl::StrCat("input '", input.name(), "' has shape ",
                                       ShapeString(shape), "; expected ", ExpectedShape(config)));
  }
  return batched ? static_cast<int>(shape[0]) : 1;
}

absl::Status DecodeData(const ServedModel& model, const ModelInferRequest& request,
                        DecodedRequest& decoded) {
  const ModelInferRequest::InferInputTensor& input = request.inputs(0);
  const int64_t count = decoded.rows * model.input_row_elements();
  const bool is_uint8 = input.datatype() == "UINT8";
  const int64_t element_bytes = is_uint8 ? 1 : 4;
  decoded.input.resize(count);
  const inference::ModelInput& config_input = model.config().input(0);

  if (request.raw_input_contents_size() > 0) {
    if (request.raw_input_contents_size() != 1) {
      return Invalid(model, absl::StrCat("raw_input_contents has ",
                                         request.raw_input_contents_size(),
                                         " entries for 1 input"));
    }
    if (input.has_contents()) {
      return Invalid(model, absl::StrCat("input '", input.name(), "' has both contents and "
                                         "raw_input_contents; send one"));
    }
    const std::string& raw = request.raw_input_contents(0);
    if (static_cast<int64_t>(raw.size()) != count * element_bytes) {
      return Invalid(model, absl::StrCat("input '", input.name(), "' holds ", raw.size(),
                                         " bytes; shape ", ShapeString(input.shape()), " of ",
                                         input.datatype(), " needs ", count * element_bytes));
    }
    if (is_uint8) {
      NormalizePixels(config_input, reinterpret_cast<const uint8_t*>(raw.data()), count,
                decoded.input.data());
    } else {
      std::memcpy(decoded.input.data(), raw.data(), raw.size());
    }
    return absl::OkStatus();
  }
  const inference::InferTensorContents& contents = input.contents();
  const int64_t given = is_uint8 ? contents.uint_contents_size() : contents.fp32_contents_size();
  if (given != count) {
    return Invalid(model, absl::StrCat("input '", input.name(), "' has ", given, " ",
                                       is_uint8 ? "uint_contents" : "fp32_contents",
                                       " values; shape ", ShapeString(input.shape()),
                                       " needs ", count));
  }
  if (is_uint8) {
    std::vector<uint8_t> pixels(count);
    for (int64_t i = 0; i < count; ++i) {
      const uint32_t value = contents.uint_contents(i);
      if (value > 255) {
        return Invalid(model, absl::StrCat("input '", input.name(), "' value ", value,
                                           " at ", i, " is not a UINT8"));
      }
      pixels[i] = static_cast<uint8_t>(value);
    }
    NormalizePixels(config_input, pixels.data(), count, decoded.input.data());
  } else {
    std::copy(contents.fp32_contents().begin(), contents.fp32_contents().end(),
              decoded.input.begin());
  }
  return absl::OkStatus();
}

absl::Status DecodeParameters(const ServedModel& model, const ModelInferRequest& request,
                              DecodedRequest& decoded) {
  for (const auto& [key, value] : request.parameters()) {
    if (key == "layer_stats") {
      if (value.parameter_choice_case() != InferParameter::kBoolParam) {
        return Invalid(model, "parameter 'layer_stats' must be a bool");
      }
      decoded.want_layer_stats = value.bool_param();
    } else if (key == "timeout") {
      const bool integer = value.parameter_choice_case() == InferParameter::kInt64Param ||
                           value.parameter_choice_case() == InferParameter::kUint64Param;
      const int64_t us = value.parameter_choice_case() == InferParameter::kInt64Param
                             ? value.int64_param()
                             : static_cast<int64_t>(value.uint64_param());
      if (!integer || us < 0) {
        return Invalid(model, "parameter 'timeout' must be a non-negative integer (microseconds)");
      }
      if (us > 0) decoded.timeout = std::chrono::microseconds(us);
    }
    // Other parameters (priority, sequence ids, binary_data_output) do not
    // apply to convd's models and are ignored, as Triton does for backends.
  }
  return absl::OkStatus();
}

absl::Status DecodeOutputs(const ServedModel& model, const ModelInferRequest& request,
                           DecodedRequest& decoded) {
  const inference::ModelOutput& output = model.config().output(0);
  if (request.outputs_size() > 1) {
    return Invalid(model, absl::StrCat("requests ", request.outputs_size(),
                                       " outputs; the model has one, '", output.name(), "'"));
  }
  if (request.outputs_size() == 0) return absl::OkStatus();
  const auto& requested = request.outputs(0);
  if (requested.name() != output.name()) {
    return Invalid(model, absl::StrCat("unknown output '", requested.name(), "'; the model's "
                                       "output is '", output.name(), "'"));
  }
  auto it = requested.parameters().find("classification");
  if (it == requested.parameters().end()) return absl::OkStatus();
  const int64_t classes = model.output_row_elements();
  const InferParameter& k = it->second;
  if (k.parameter_choice_case() != InferParameter::kInt64Param || k.int64_param() < 1 ||
      k.int64_param() > classes) {
    return Invalid(model, absl::StrCat("output parameter 'classification' must be an integer in "
                                       "[1, ", classes, "]"));
  }
  decoded.classification_k = static_cast<int>(k.int64_param());
  return absl::OkStatus();
}


}  // namespace

absl::StatusOr<DecodedRequest> DecodeInferRequest(const ServedModel& model,
                                                  const ModelInferRequest& request) {
  const inference::ModelInput& expected = model.config().input(0);
  if (request.inputs_size() != 1) {
    return Invalid(model, absl::StrCat("expects 1 input ('", expected.name(), "'); got ",
                                       request.inputs_size()));
  }
  const ModelInferRequest::InferInputTensor& input = request.inputs(0);
  if (input.name() != expected.name()) {
    return Invalid(model, absl::StrCat("unknown input '", input.name(), "'; expected '",
                                       expected.name(), "'"));
  }
  if (input.datatype() != "FP32" && input.datatype() != "UINT8" && input.datatype() != "BYTES") {
    return Invalid(model, absl::StrCat("input '", input.name(), "' has datatype '",
                                       input.datatype(),
                                       "'; expected FP32, UINT8 or BYTES (encoded images)"));
  }
  DecodedRequest decoded;
  decoded.id = request.id();
  if (input.datatype() == "BYTES") {
    RETURN_IF_ERROR(DecodeImageInput(model, request, decoded));
  } else {
    ASSIGN_OR_RETURN(decoded.rows, CheckShape(model, input));
    RETURN_IF_ERROR(DecodeData(model, request, decoded));
  }
  RETURN_IF_ERROR(DecodeParameters(model, request, decoded));
  RETURN_IF_ERROR(DecodeOutputs(model, request, decoded));
  return decoded;
}

void EncodeInferResponse(const ServedModel& model, const DecodedRequest& request,
                         const InferenceJob& job, inference::ModelInferResponse& response) {
  const inference::ModelOutput& output_config = model.config().output(0);
  response.set_model_name(model.name());
  response.set_model_version(std::to_string(model.version()));
  response.set_id(request.id);
  auto* output = response.add_outputs();
  output->set_name(output_config.name());
  const bool batched = model.config().max_batch_size() > 0;
  if (batched) output->add_shape(request.rows);
  const int64_t classes = model.output_row_elements();
  if (request.classification_k > 0) {
    output->set_datatype("BYTES");
    output->add_shape(request.classification_k);
    std::vector<std::string> elements;
    for (int row = 0; row < request.rows; ++row) {
      std::vector<std::string> top = Classify(job.output.data() + row * classes,
                                              static_cast<int>(classes),
                                              request.classification_k, model.labels());
      elements.insert(elements.end(), top.begin(), top.end());
    }
    response.add_raw_output_contents(SerializeBytesTensor(elements));
  } else {
    output->set_datatype("FP32");
    for (int64_t d : output_config.dims()) output->add_shape(d);
    response.add_raw_output_contents(
        std::string(reinterpret_cast<const char*>(job.output.data()),
                    job.output.size() * sizeof(float)));
  }
  if (request.want_layer_stats) {
    (*response.mutable_parameters())["layer_stats"].set_string_param(job.layer_stats.ToJson());
    (*response.mutable_parameters())["batch_size"].set_int64_param(job.batch_size);
  }
}

}  // namespace convd
