#include "server/core/infer_codec.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/model_config.h"
#include "engine/status_macros.h"
#include "server/core/classification.h"
#include "server/core/datatype.h"
#include "server/core/image_input.h"
#include "server/core/pixels.h"
#include "server/core/shared_memory_parameters.h"

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

// The most bytes an input of encoded images may take in shared memory, as
// the default gRPC and HTTP request limits: its size is the client's word,
// and is read into memory before anything else can check it.
constexpr uint64_t kMaxSharedMemoryImageBytes = uint64_t{256} << 20;

absl::Status ByteCountError(const ServedModel& model,
                            const ModelInferRequest::InferInputTensor& input, uint64_t bytes,
                            int64_t needed) {
  return Invalid(
      model, absl::StrCat("input '", input.name(), "' holds ", bytes, " bytes; shape ",
                          ShapeString(input.shape()), " of ", input.datatype(), " needs ", needed));
}

// The string holding the input's bytes when they come serialized: `storage`
// (read from shared memory) or the request's raw_input_contents entry; the
// caller may take them. Null: typed contents. `tensor_bytes` is the size a
// tensor input must have (nullopt for encoded images); a shared-memory
// input of any other size is refused unread.
absl::StatusOr<std::string*> RawInput(const ServedModel& model, ModelInferRequest& request,
                                      const SharedMemoryRegistry& shared_memory,
                                      std::optional<int64_t> tensor_bytes, std::string& storage) {
  const ModelInferRequest::InferInputTensor& input = request.inputs(0);
  if (request.raw_input_contents_size() > 1) {
    return Invalid(model, absl::StrCat("raw_input_contents has ", request.raw_input_contents_size(),
                                       " entries for 1 input"));
  }
  const std::string tensor = absl::StrCat("input '", input.name(), "'");
  // Held, not moved out: GCC 12 sees a moved optional<SharedMemoryRef> as
  // maybe uninitialized (-Wmaybe-uninitialized, a false positive).
  const absl::StatusOr<std::optional<SharedMemoryRef>> resolved =
      shared_memory.Resolve(input.parameters(), tensor);
  if (!resolved.ok()) return resolved.status();
  const std::optional<SharedMemoryRef>& memory = *resolved;
  std::vector<std::string> sources;
  if (memory.has_value()) sources.push_back("shared memory");
  if (request.raw_input_contents_size() > 0) sources.push_back("raw_input_contents");
  if (input.has_contents()) sources.push_back("contents");
  if (sources.size() > 1) {
    return Invalid(model,
                   absl::StrCat(tensor, " has ", absl::StrJoin(sources, " and "), "; send one"));
  }
  if (memory.has_value()) {
    if (tensor_bytes.has_value() && memory->byte_size != static_cast<uint64_t>(*tensor_bytes)) {
      return ByteCountError(model, input, memory->byte_size, *tensor_bytes);
    }
    if (!tensor_bytes.has_value() && memory->byte_size > kMaxSharedMemoryImageBytes) {
      return Invalid(model, absl::StrCat(tensor, ": shared_memory_byte_size ", memory->byte_size,
                                         " is over the ", kMaxSharedMemoryImageBytes,
                                         " bytes an input of encoded images may take"));
    }
    storage.resize(memory->byte_size);
    if (absl::Status read = memory->region->Read(memory->offset, memory->byte_size, storage.data());
        !read.ok()) {
      return Invalid(model, absl::StrCat(tensor, ": ", read.message()));
    }
    return &storage;
  }
  if (request.raw_input_contents_size() == 1) return request.mutable_raw_input_contents(0);
  return nullptr;
}

// Tensor inputs: `raw` as RawInput found it (FP32 bytes are taken, not
// copied), or the request's typed contents.
absl::Status DecodeData(const ServedModel& model, const ModelInferRequest& request,
                        std::string* raw, DecodedRequest& decoded) {
  const ModelInferRequest::InferInputTensor& input = request.inputs(0);
  const int64_t count = decoded.rows * model.input_row_elements();
  const bool is_uint8 = input.datatype() == "UINT8";
  const int64_t element_bytes = DatatypeBytes(input.datatype());
  const inference::ModelInput& config_input = model.config().input(0);

  if (raw != nullptr) {
    if (static_cast<int64_t>(raw->size()) != count * element_bytes) {
      return ByteCountError(model, input, raw->size(), count * element_bytes);
    }
    if (is_uint8) {
      std::vector<float> floats(count);
      NormalizePixels(config_input, reinterpret_cast<const uint8_t*>(raw->data()), count,
                      floats.data());
      decoded.input = JobInput(std::move(floats));
    } else {
      decoded.input = JobInput::AdoptBytes(std::move(*raw));
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
  std::vector<float> floats(count);
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
    NormalizePixels(config_input, pixels.data(), count, floats.data());
  } else {
    std::copy(contents.fp32_contents().begin(), contents.fp32_contents().end(), floats.begin());
  }
  decoded.input = JobInput(std::move(floats));
  return absl::OkStatus();
}

absl::Status DecodeParameters(const ServedModel& model, const ModelInferRequest& request,
                              DecodedRequest& decoded) {
  uint64_t requested_priority = 0;
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
    } else if (key == "priority") {
      const bool integer = value.parameter_choice_case() == InferParameter::kInt64Param ||
                           value.parameter_choice_case() == InferParameter::kUint64Param;
      if (!integer || (value.parameter_choice_case() == InferParameter::kInt64Param &&
                       value.int64_param() < 0)) {
        return Invalid(model, "parameter 'priority' must be a non-negative integer");
      }
      requested_priority = value.parameter_choice_case() == InferParameter::kInt64Param
                               ? static_cast<uint64_t>(value.int64_param())
                               : value.uint64_param();
    }
    // Other parameters (sequence ids, binary_data_output) do not apply to
    // convd's models and are ignored, as Triton does for backends.
  }
  absl::StatusOr<uint64_t> level = RequestPriorityLevel(model.config(), requested_priority);
  if (!level.ok()) return Invalid(model, std::string(level.status().message()));
  decoded.priority_level = *level;
  return absl::OkStatus();
}

absl::Status DecodeOutputs(const ServedModel& model, const ModelInferRequest& request,
                           const SharedMemoryRegistry& shared_memory, DecodedRequest& decoded) {
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
  const int64_t classes = model.output_row_elements();
  if (auto it = requested.parameters().find("classification"); it != requested.parameters().end()) {
    const InferParameter& k = it->second;
    if (k.parameter_choice_case() != InferParameter::kInt64Param || k.int64_param() < 1 ||
        k.int64_param() > classes) {
      return Invalid(model, absl::StrCat("output parameter 'classification' must be an integer "
                                         "in [1, ",
                                         classes, "]"));
    }
    decoded.classification_k = static_cast<int>(k.int64_param());
  }
  const std::string tensor = absl::StrCat("output '", output.name(), "'");
  ASSIGN_OR_RETURN(decoded.output_memory, shared_memory.Resolve(requested.parameters(), tensor));
  // Classification strings have no size until they exist; EncodeInferResponse checks those.
  const uint64_t tensor_bytes = uint64_t{sizeof(float)} * decoded.rows * classes;
  if (decoded.output_memory.has_value() && decoded.classification_k == 0 &&
      decoded.output_memory->byte_size < tensor_bytes) {
    return Invalid(
        model, absl::StrCat(tensor, ": shared_memory_byte_size ", decoded.output_memory->byte_size,
                            " cannot hold its ", tensor_bytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DecodedRequest> DecodeInferRequest(const ServedModel& model,
                                                  ModelInferRequest& request,
                                                  const SharedMemoryRegistry& shared_memory) {
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
  const bool images = input.datatype() == "BYTES";
  std::optional<int64_t> tensor_bytes;  // known up front for tensors, not for images
  if (!images) {
    ASSIGN_OR_RETURN(decoded.rows, CheckShape(model, input));
    tensor_bytes = decoded.rows * model.input_row_elements() * DatatypeBytes(input.datatype());
  }
  std::string shared_memory_bytes;  // the input, when it comes from shared memory
  ASSIGN_OR_RETURN(std::string * raw,
                   RawInput(model, request, shared_memory, tensor_bytes, shared_memory_bytes));
  if (images) {
    RETURN_IF_ERROR(DecodeImageInput(
        model, request, raw == nullptr ? std::nullopt : std::optional<std::string_view>(*raw),
        decoded));
  } else {
    RETURN_IF_ERROR(DecodeData(model, request, raw, decoded));
  }
  RETURN_IF_ERROR(DecodeParameters(model, request, decoded));
  RETURN_IF_ERROR(DecodeOutputs(model, request, shared_memory, decoded));
  return decoded;
}

absl::Status EncodeInferResponse(const ServedModel& model, const DecodedRequest& request,
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
  std::string bytes;
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
    bytes = SerializeBytesTensor(elements);
  } else {
    output->set_datatype("FP32");
    for (int64_t d : output_config.dims()) output->add_shape(d);
    bytes.assign(reinterpret_cast<const char*>(job.output.data()),
                 job.output.size() * sizeof(float));
  }
  if (request.output_memory.has_value()) {
    const SharedMemoryRef& memory = *request.output_memory;
    const std::string tensor = absl::StrCat("output '", output_config.name(), "'");
    if (bytes.size() > memory.byte_size) {
      return Invalid(model, absl::StrCat(tensor, ": shared_memory_byte_size ", memory.byte_size,
                                         " cannot hold its ", bytes.size(), " bytes"));
    }
    if (absl::Status written = memory.region->Write(memory.offset, bytes); !written.ok()) {
      return Invalid(model, absl::StrCat(tensor, ": ", written.message()));
    }
    // As requested, but with the bytes written rather than the room given.
    SetSharedMemory(*output->mutable_parameters(), memory.region->name(), bytes.size(),
                    memory.offset);
    // An empty entry all the same: Triton's C++ client (perf_analyzer
    // included) reads raw_output_contents(i) for every output i.
    response.add_raw_output_contents();
  } else {
    response.add_raw_output_contents(std::move(bytes));
  }
  if (request.want_layer_stats) {
    (*response.mutable_parameters())["layer_stats"].set_string_param(job.layer_stats.ToJson());
    (*response.mutable_parameters())["batch_size"].set_int64_param(job.batch_size);
  }
  return absl::OkStatus();
}

}  // namespace convd
