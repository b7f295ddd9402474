#include "server/http/settings_json.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"
#include "server/http/json_util.h"

namespace convd {

absl::StatusOr<inference::LogSettingsRequest> ParseLogSettings(const std::string& body) {
  inference::LogSettingsRequest request;
  if (body.empty()) return request;
  rapidjson::Document document;
  document.Parse<kJsonParseFlags>(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) {
    return absl::InvalidArgumentError("the request body must be a JSON object of log settings");
  }
  for (const auto& member : document.GetObject()) {
    auto& value = (*request.mutable_settings())[member.name.GetString()];
    if (member.value.IsBool()) {
      value.set_bool_param(member.value.GetBool());
    } else if (member.value.IsUint()) {
      value.set_uint32_param(member.value.GetUint());
    } else if (member.value.IsString()) {
      value.set_string_param(member.value.GetString());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("log setting '", member.name.GetString(),
                       "' must be a boolean, a non-negative integer or a string"));
    }
  }
  return request;
}

std::string LogSettingsJson(const inference::LogSettingsResponse& response) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  // In name order: a protobuf map's own order is unspecified.
  const std::map<std::string, inference::LogSettingsResponse::SettingValue> sorted(
      response.settings().begin(), response.settings().end());
  for (const auto& [name, value] : sorted) {
    writer.Key(name.c_str());
    switch (value.parameter_choice_case()) {
      case inference::LogSettingsResponse::SettingValue::kBoolParam:
        writer.Bool(value.bool_param());
        break;
      case inference::LogSettingsResponse::SettingValue::kUint32Param:
        writer.Uint(value.uint32_param());
        break;
      default:
        writer.String(value.string_param().c_str());
    }
  }
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

absl::StatusOr<inference::TraceSettingRequest> ParseTraceSettings(const std::string& body,
                                                                  const std::string& model_name) {
  inference::TraceSettingRequest request;
  request.set_model_name(model_name);
  if (body.empty()) return request;
  rapidjson::Document document;
  document.Parse<kJsonParseFlags>(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) {
    return absl::InvalidArgumentError("the request body must be a JSON object of trace settings");
  }
  for (const auto& member : document.GetObject()) {
    const std::string name(member.name.GetString(), member.name.GetStringLength());
    auto& setting = (*request.mutable_settings())[name];
    const rapidjson::Value& value = member.value;
    auto invalid = [&] {
      return absl::InvalidArgumentError(
          absl::StrCat("trace setting '", name, "' must be a string, an array of strings or null"));
    };
    if (value.IsNull()) continue;  // no values: clear it
    if (value.IsString()) {
      setting.add_value(std::string(value.GetString(), value.GetStringLength()));
    } else if (value.IsInt64()) {
      setting.add_value(std::to_string(value.GetInt64()));
    } else if (value.IsArray()) {
      if (value.Empty()) return invalid();
      for (const auto& element : value.GetArray()) {
        if (!element.IsString()) return invalid();
        setting.add_value(std::string(element.GetString(), element.GetStringLength()));
      }
    } else {
      return invalid();
    }
  }
  return request;
}

std::string TraceSettingsJson(const inference::TraceSettingResponse& response) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  const std::map<std::string, inference::TraceSettingResponse::SettingValue> sorted(
      response.settings().begin(), response.settings().end());
  for (const auto& [name, setting] : sorted) {
    writer.Key(name.c_str());
    // trace_level is a list; Triton writes the other settings as strings.
    if (name == "trace_level") {
      writer.StartArray();
      for (const std::string& value : setting.value()) {
        writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
      }
      writer.EndArray();
    } else {
      const std::string value = setting.value().empty() ? "" : setting.value(0);
      writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    }
  }
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace convd
