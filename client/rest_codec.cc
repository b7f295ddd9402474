#include "client/rest_codec.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "rapidjson/document.h"
#include "server/core/shared_memory_parameters.h"
#include "server/http/json_tensor.h"
#include "server/http/json_util.h"

namespace convd::client {
namespace {

using ParameterMap = google::protobuf::Map<std::string, inference::InferParameter>;

void WriteParameters(const ParameterMap& parameters, JsonWriter& writer) {
  for (const auto& [key, value] : parameters) {
    writer.Key(key.c_str());
    WriteParameter(value, writer);
  }
}

absl::Status ReadParameters(const rapidjson::Value& json, ParameterMap& parameters) {
  if (!json.IsObject()) return absl::InternalError("response 'parameters' is not an object");
  for (auto it = json.MemberBegin(); it != json.MemberEnd(); ++it) {
    const std::string key(it->name.GetString(), it->name.GetStringLength());
    if (absl::Status s = JsonToParameter(absl::StrCat("response parameter '", key, "'"),
                                         it->value, parameters[key]);
        !s.ok()) {
      return absl::InternalError(s.message());
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RestRequestBody> EncodeRestInferRequest(const inference::ModelInferRequest& request) {
  int inline_inputs = 0;
  for (const auto& input : request.inputs()) inline_inputs += !InSharedMemory(input.parameters());
  if (request.raw_input_contents_size() != inline_inputs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the REST client sends inputs not in shared memory as raw contents: ", inline_inputs,
        " such inputs but ", request.raw_input_contents_size(), " raw_input_contents"));
  }
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  if (!request.id().empty()) {
    writer.Key("id");
    writer.String(request.id().c_str(), request.id().size());
  }
  writer.Key("parameters");
  writer.StartObject();
  WriteParameters(request.parameters(), writer);
  if (request.outputs_size() == 0 && !request.parameters().contains("binary_data_output")) {
    writer.Key("binary_data_output");
    writer.Bool(true);
  }
  writer.EndObject();
  writer.Key("inputs");
  writer.StartArray();
  int raw_index = 0;
  for (const auto& input : request.inputs()) {
    writer.StartObject();
    writer.Key("name");
    writer.String(input.name().c_str(), input.name().size());
    writer.Key("datatype");
    writer.String(input.datatype().c_str(), input.datatype().size());
    writer.Key("shape");
    writer.StartArray();
    for (int64_t d : input.shape()) writer.Int64(d);
    writer.EndArray();
    writer.Key("parameters");
    writer.StartObject();
    WriteParameters(input.parameters(), writer);
    if (!InSharedMemory(input.parameters())) {
      writer.Key("binary_data_size");
      writer.Uint64(request.raw_input_contents(raw_index++).size());
    }
    writer.EndObject();
    writer.EndObject();
  }
  writer.EndArray();
  if (request.outputs_size() > 0) {
    writer.Key("outputs");
    writer.StartArray();
    for (const auto& output : request.outputs()) {
      writer.StartObject();
      writer.Key("name");
      writer.String(output.name().c_str(), output.name().size());
      writer.Key("parameters");
      writer.StartObject();
      WriteParameters(output.parameters(), writer);
      if (!InSharedMemory(output.parameters())) {
        writer.Key("binary_data");
        writer.Bool(true);
      }
      writer.EndObject();
      writer.EndObject();
    }
    writer.EndArray();
  }
  writer.EndObject();
  RestRequestBody result;
  result.body.assign(buffer.GetString(), buffer.GetSize());
  result.json_size = result.body.size();
  for (const std::string& raw : request.raw_input_contents()) result.body += raw;
  return result;
}

absl::StatusOr<inference::ModelInferResponse> DecodeRestInferResponse(
    std::string_view body, std::optional<size_t> json_size,
    const std::set<std::string>& shared_memory_outputs) {
  const size_t header_size = json_size.value_or(body.size());
  if (header_size > body.size()) {
    return absl::InternalError(absl::StrCat("Inference-Header-Content-Length ", header_size,
                                            " exceeds the response body (", body.size(),
                                            " bytes)"));
  }
  rapidjson::Document json;
  json.Parse<kJsonParseFlags>(body.data(), header_size);
  if (json.HasParseError() || !json.IsObject()) {
    return absl::InternalError("the inference response is not a JSON object");
  }
  inference::ModelInferResponse response;
  auto string_member = [&](const char* name) -> std::string {
    auto it = json.FindMember(name);
    return it != json.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
  };
  response.set_model_name(string_member("model_name"));
  response.set_model_version(string_member("model_version"));
  response.set_id(string_member("id"));
  if (auto it = json.FindMember("parameters"); it != json.MemberEnd()) {
    if (absl::Status s = ReadParameters(it->value, *response.mutable_parameters()); !s.ok()) {
      return s;
    }
  }
  auto outputs = json.FindMember("outputs");
  if (outputs == json.MemberEnd() || !outputs->value.IsArray()) {
    return absl::InternalError("the inference response has no 'outputs' array");
  }
  size_t offset = header_size;
  for (const auto& item : outputs->value.GetArray()) {
    if (!item.IsObject()) return absl::InternalError("an output is not a JSON object");
    auto& output = *response.add_outputs();
    auto member = [&](const char* name) -> const rapidjson::Value* {
      auto it = item.FindMember(name);
      return it == item.MemberEnd() ? nullptr : &it->value;
    };
    const rapidjson::Value* name = member("name");
    const rapidjson::Value* datatype = member("datatype");
    const rapidjson::Value* shape = member("shape");
    if (!name || !name->IsString() || !datatype || !datatype->IsString() || !shape ||
        !shape->IsArray()) {
      return absl::InternalError("an output lacks name, datatype or shape");
    }
    output.set_name(name->GetString());
    output.set_datatype(datatype->GetString());
    for (const auto& d : shape->GetArray()) {
      if (!d.IsInt64()) return absl::InternalError("an output shape is not integers");
      output.add_shape(d.GetInt64());
    }
    std::optional<uint64_t> binary_size;
    if (const rapidjson::Value* parameters = member("parameters")) {
      if (absl::Status s = ReadParameters(*parameters, *output.mutable_parameters()); !s.ok()) {
        return s;
      }
      auto& output_parameters = *output.mutable_parameters();
      if (auto it = output_parameters.find("binary_data_size"); it != output_parameters.end()) {
        binary_size = it->second.int64_param();
        output_parameters.erase(it);
      }
    }
    std::string& raw = *response.add_raw_output_contents();
    if (shared_memory_outputs.contains(output.name()) && !binary_size && !member("data")) {
      continue;  // its data is in the region; an empty entry, as over gRPC
    }
    if (binary_size) {
      if (*binary_size > body.size() - offset) {
        return absl::InternalError(absl::StrCat("output '", output.name(), "' claims ",
                                                *binary_size, " binary bytes; ",
                                                body.size() - offset, " remain"));
      }
      raw.assign(body.substr(offset, *binary_size));
      offset += *binary_size;
    } else if (const rapidjson::Value* data = member("data")) {
      int64_t count = 0;
      if (absl::Status s = AppendJsonData(absl::StrCat("output '", output.name(), "'"), *data,
                                          output.datatype(), raw, count);
          !s.ok()) {
        return absl::InternalError(s.message());
      }
    } else {
      return absl::InternalError(absl::StrCat("output '", output.name(), "' has no data"));
    }
  }
  return response;
}

absl::Status JsonToMessage(std::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot read the server's ",
                                            message->GetDescriptor()->name(), " JSON: ",
                                            std::string(status.message())));
  }
  return absl::OkStatus();
}

}  // namespace convd::client
