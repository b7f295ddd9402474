#include "server/http/infer_json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "server/core/bytes_tensor.h"
#include "server/core/datatype.h"
#include "server/core/shared_memory_parameters.h"
#include "server/http/json_tensor.h"
#include "server/http/json_util.h"

namespace convd {
namespace {

using inference::InferParameter;
using rapidjson::Value;

constexpr int64_t kMaxElements = int64_t{1} << 40;

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

absl::StatusOr<std::string> StringMember(const Value& object, const char* name,
                                         const std::string& where) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) {
    return Invalid(absl::StrCat(where, " needs a string '", name, "'"));
  }
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

absl::Status ParseInput(const Value& input, int index, std::string_view body, bool has_binary,
                        size_t& binary_offset, RestInferRequest& out) {
  const std::string where = absl::StrCat("inputs[", index, "]");
  if (!input.IsObject()) return Invalid(absl::StrCat(where, " must be an object"));
  auto* tensor = out.request.add_inputs();
  absl::StatusOr<std::string> name = StringMember(input, "name", where);
  if (!name.ok()) return name.status();
  absl::StatusOr<std::string> datatype = StringMember(input, "datatype", where);
  if (!datatype.ok()) return datatype.status();
  tensor->set_name(*name);
  tensor->set_datatype(*datatype);
  auto shape = input.FindMember("shape");
  if (shape == input.MemberEnd() || !shape->value.IsArray()) {
    return Invalid(absl::StrCat("input '", *name, "' needs a 'shape' array"));
  }
  int64_t elements = 1;
  for (const Value& dim : shape->value.GetArray()) {
    if (!dim.IsInt64() || dim.GetInt64() < 0) {
      return Invalid(absl::StrCat("input '", *name, "': shape must hold non-negative integers"));
    }
    tensor->add_shape(dim.GetInt64());
    elements = dim.GetInt64() == 0 ? 0 : std::min(kMaxElements, elements * dim.GetInt64());
  }
  std::optional<uint64_t> binary_size;
  if (auto params = input.FindMember("parameters"); params != input.MemberEnd()) {
    if (!params->value.IsObject()) {
      return Invalid(absl::StrCat("input '", *name, "': 'parameters' must be an object"));
    }
    for (const auto& param : params->value.GetObject()) {
      const std::string key(param.name.GetString(), param.name.GetStringLength());
      if (key == "binary_data_size") {
        if (!param.value.IsUint64()) {
          return Invalid(absl::StrCat("input '", *name,
                                      "': binary_data_size must be a non-negative integer"));
        }
        binary_size = param.value.GetUint64();
        continue;
      }
      if (absl::Status s = JsonToParameter(absl::StrCat("input '", *name, "' parameter '", key, "'"),
                                       param.value, (*tensor->mutable_parameters())[key]);
          !s.ok()) {
        return s;
      }
    }
  }
  const bool has_data = input.HasMember("data");
  if (InSharedMemory(tensor->parameters())) {
    // The bytes are in shared memory; the service reads them from there.
    if (has_data || binary_size.has_value()) {
      return Invalid(absl::StrCat("input '", *name, "' has shared_memory_region and ",
                                  has_data ? "'data'" : "binary_data_size", "; send one"));
    }
    return absl::OkStatus();
  }
  std::string& raw = *out.request.add_raw_input_contents();
  if (binary_size.has_value()) {
    if (!has_binary) {
      return Invalid(absl::StrCat("input '", *name, "' has binary_data_size but the request has "
                                  "no Inference-Header-Content-Length header"));
    }
    if (has_data) {
      return Invalid(absl::StrCat("input '", *name, "' has both 'data' and binary_data_size"));
    }
    if (*binary_size > body.size() - binary_offset) {
      return Invalid(absl::StrCat("input '", *name, "': binary_data_size ", *binary_size,
                                  " runs past the end of the body (",
                                  body.size() - binary_offset, " bytes left)"));
    }
    raw.assign(body.substr(binary_offset, *binary_size));
    binary_offset += *binary_size;
    return absl::OkStatus();
  }
  if (!has_data) {
    return Invalid(absl::StrCat("input '", *name, "' needs 'data' or a binary_data_size parameter"));
  }
  raw.reserve(static_cast<size_t>(std::min<int64_t>(elements, 1 << 26)) * DatatypeBytes(*datatype));
  int64_t count = 0;
  if (absl::Status s =
          AppendJsonData(absl::StrCat("input '", *name, "'"), input["data"], *datatype, raw, count);
      !s.ok()) {
    return s;
  }
  if (count != elements) {
    return Invalid(absl::StrCat("input '", *name, "': shape holds ", elements,
                                " elements but 'data' has ", count));
  }
  return absl::OkStatus();
}

absl::Status ParseOutput(const Value& output, int index, RestInferRequest& out) {
  const std::string where = absl::StrCat("outputs[", index, "]");
  if (!output.IsObject()) return Invalid(absl::StrCat(where, " must be an object"));
  absl::StatusOr<std::string> name = StringMember(output, "name", where);
  if (!name.ok()) return name.status();
  auto* requested = out.request.add_outputs();
  requested->set_name(*name);
  auto params = output.FindMember("parameters");
  if (params == output.MemberEnd()) return absl::OkStatus();
  if (!params->value.IsObject()) {
    return Invalid(absl::StrCat("output '", *name, "': 'parameters' must be an object"));
  }
  for (const auto& param : params->value.GetObject()) {
    const std::string key(param.name.GetString(), param.name.GetStringLength());
    if (key == "binary_data") {
      if (!param.value.IsBool()) {
        return Invalid(absl::StrCat("output '", *name, "': binary_data must be a bool"));
      }
      if (param.value.GetBool()) out.binary_outputs.insert(*name);
      continue;
    }
    if (absl::Status s = JsonToParameter(absl::StrCat("output '", *name, "' parameter '", key, "'"),
                                     param.value, (*requested->mutable_parameters())[key]);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RestInferRequest> ParseRestInferRequest(std::string_view body,
                                                       std::optional<uint64_t> json_size,
                                                       const std::string& model_name,
                                                       const std::string& model_version) {
  if (json_size.has_value() && *json_size > body.size()) {
    return Invalid(absl::StrCat("Inference-Header-Content-Length (", *json_size,
                                ") exceeds the body (", body.size(), " bytes)"));
  }
  const size_t header_size = json_size.value_or(body.size());
  rapidjson::Document document;
  document.Parse<kJsonParseFlags | rapidjson::kParseStopWhenDoneFlag>(body.data(), header_size);
  if (document.HasParseError()) {
    return Invalid(absl::StrCat("the request is not valid JSON (",
                                rapidjson::GetParseError_En(document.GetParseError()),
                                " at byte ", document.GetErrorOffset(), ")"));
  }
  if (!document.IsObject()) return Invalid("the request must be a JSON object");
  RestInferRequest out;
  out.request.set_model_name(model_name);
  out.request.set_model_version(model_version);
  if (auto id = document.FindMember("id"); id != document.MemberEnd()) {
    if (!id->value.IsString()) return Invalid("'id' must be a string");
    out.request.set_id(std::string(id->value.GetString(), id->value.GetStringLength()));
  }
  if (auto params = document.FindMember("parameters"); params != document.MemberEnd()) {
    if (!params->value.IsObject()) return Invalid("'parameters' must be an object");
    for (const auto& param : params->value.GetObject()) {
      const std::string key(param.name.GetString(), param.name.GetStringLength());
      if (key == "binary_data_output") {
        if (!param.value.IsBool()) return Invalid("binary_data_output must be a bool");
        out.all_outputs_binary = param.value.GetBool();
        continue;
      }
      if (absl::Status s = JsonToParameter(absl::StrCat("parameter '", key, "'"), param.value,
                                       (*out.request.mutable_parameters())[key]);
          !s.ok()) {
        return s;
      }
    }
  }
  auto inputs = document.FindMember("inputs");
  if (inputs == document.MemberEnd() || !inputs->value.IsArray() || inputs->value.Empty()) {
    return Invalid("the request needs a non-empty 'inputs' array");
  }
  size_t binary_offset = header_size;
  int index = 0;
  for (const Value& input : inputs->value.GetArray()) {
    if (absl::Status s =
            ParseInput(input, index++, body, json_size.has_value(), binary_offset, out);
        !s.ok()) {
      return s;
    }
  }
  if (binary_offset != body.size()) {
    return Invalid(absl::StrCat(body.size() - header_size, " bytes follow the JSON but the "
                                "inputs' binary_data_size add up to ",
                                binary_offset - header_size));
  }
  if (auto outputs = document.FindMember("outputs"); outputs != document.MemberEnd()) {
    if (!outputs->value.IsArray()) return Invalid("'outputs' must be an array");
    index = 0;
    for (const Value& output : outputs->value.GetArray()) {
      if (absl::Status s = ParseOutput(output, index++, out); !s.ok()) return s;
    }
  }
  return out;
}

namespace {

// FP32 with the shortest text that reads back as the same float.
void WriteFloat(float value, JsonWriter& writer) {
  if (!std::isfinite(value)) {
    writer.Double(value);  // NaN, Infinity or -Infinity: see kJsonParseFlags
    return;
  }
  char text[32];
  const auto result = std::to_chars(text, text + sizeof(text), value);
  writer.RawValue(text, static_cast<size_t>(result.ptr - text), rapidjson::kNumberType);
}

// The output datatypes convd produces; anything else goes out as binary.
bool HasJsonForm(const std::string& datatype) { return datatype == "FP32" || datatype == "BYTES"; }

// JSON "data" for a raw output of a HasJsonForm datatype.
void WriteData(const std::string& datatype, const std::string& raw, JsonWriter& writer) {
  if (datatype == "FP32") {
    writer.StartArray();
    for (size_t i = 0; i + sizeof(float) <= raw.size(); i += sizeof(float)) {
      float value;
      std::memcpy(&value, raw.data() + i, sizeof(float));
      WriteFloat(value, writer);
    }
    writer.EndArray();
    return;
  }
  if (datatype == "BYTES") {
    std::vector<std::string_view> elements;
    (void)SplitBytesTensor(raw, elements);  // convd's own output: well formed
    writer.StartArray();
    for (std::string_view element : elements) {
      writer.String(element.data(), static_cast<rapidjson::SizeType>(element.size()));
    }
    writer.EndArray();
  }
}

// A parameters object, keys sorted: protobuf maps iterate in no fixed
// order, and the same response should read the same every time.
void WriteParameters(const google::protobuf::Map<std::string, InferParameter>& parameters,
                     JsonWriter& writer) {
  std::map<std::string, const InferParameter*> sorted;
  for (const auto& [key, value] : parameters) sorted.emplace(key, &value);
  writer.StartObject();
  for (const auto& [key, value] : sorted) {
    writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    WriteParameter(*value, writer);
  }
  writer.EndObject();
}

}  // namespace

RestInferResponse WriteRestInferResponse(const RestInferRequest& request,
                                         const inference::ModelInferResponse& response) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  std::string binary_data;
  writer.StartObject();
  writer.Key("model_name");
  writer.String(response.model_name().c_str());
  writer.Key("model_version");
  writer.String(response.model_version().c_str());
  if (!response.id().empty()) {
    writer.Key("id");
    writer.String(response.id().data(), static_cast<rapidjson::SizeType>(response.id().size()));
  }
  if (!response.parameters().empty()) {
    writer.Key("parameters");
    WriteParameters(response.parameters(), writer);
  }
  writer.Key("outputs");
  writer.StartArray();
  for (int i = 0; i < response.outputs_size(); ++i) {
    const auto& output = response.outputs(i);
    static const std::string kEmpty;
    const std::string& raw =
        i < response.raw_output_contents_size() ? response.raw_output_contents(i) : kEmpty;
    const bool in_shared_memory = InSharedMemory(output.parameters());
    writer.StartObject();
    writer.Key("name");
    writer.String(output.name().c_str());
    writer.Key("datatype");
    writer.String(output.datatype().c_str());
    writer.Key("shape");
    writer.StartArray();
    for (int64_t d : output.shape()) writer.Int64(d);
    writer.EndArray();
    const bool binary = request.all_outputs_binary || request.binary_outputs.contains(output.name());
    if (in_shared_memory) {
      // Written to shared memory: name, datatype and shape alone. Triton's
      // C++ client (perf_analyzer) reads any output "parameters" object as
      // binary data and fails without a binary_data_size in it.
    } else if (!binary && HasJsonForm(output.datatype())) {
      writer.Key("data");
      WriteData(output.datatype(), raw, writer);
    } else {
      writer.Key("parameters");
      writer.StartObject();
      writer.Key("binary_data_size");
      writer.Uint64(raw.size());
      writer.EndObject();
      binary_data.append(raw);
    }
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  RestInferResponse out;
  out.body.assign(buffer.GetString(), buffer.GetSize());
  if (!binary_data.empty() || request.all_outputs_binary || !request.binary_outputs.empty()) {
    out.json_size = out.body.size();
    out.body.append(binary_data);
  }
  return out;
}

}  // namespace convd
