#include "server/http/json_tensor.h"

#include <cstring>
#include <limits>
#include <map>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace convd {
namespace {

using inference::InferParameter;
using rapidjson::Value;

// Deeper "data" nesting than any tensor rank is refused, so a hostile body
// cannot recurse without bound.
constexpr int kMaxDataDepth = 16;

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

template <typename T>
void AppendBytes(T value, std::string& raw) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  raw.append(bytes, sizeof(T));
}

// Appends one scalar of a datatype to the raw bytes; false if `value` is
// not of that type (or out of its range). Resolved once per input.
using AppendScalar = bool (*)(const Value& value, std::string& raw);

template <typename T>
bool AppendInteger(const Value& value, std::string& raw) {
  if constexpr (std::is_signed_v<T>) {
    if (!value.IsInt64()) return false;
    const int64_t v = value.GetInt64();
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
    AppendBytes(static_cast<T>(v), raw);
  } else {
    if (!value.IsUint64()) return false;
    const uint64_t v = value.GetUint64();
    if (v > std::numeric_limits<T>::max()) return false;
    AppendBytes(static_cast<T>(v), raw);
  }
  return true;
}

bool AppendFp32(const Value& value, std::string& raw) {
  if (!value.IsNumber()) return false;
  AppendBytes(static_cast<float>(value.GetDouble()), raw);
  return true;
}

bool AppendFp64(const Value& value, std::string& raw) {
  if (!value.IsNumber()) return false;
  AppendBytes(value.GetDouble(), raw);
  return true;
}

bool AppendBytesElement(const Value& value, std::string& raw) {
  if (!value.IsString()) return false;
  AppendBytes(static_cast<uint32_t>(value.GetStringLength()), raw);
  raw.append(value.GetString(), value.GetStringLength());
  return true;
}

bool AppendBool(const Value& value, std::string& raw) {
  if (!value.IsBool()) return false;
  raw.push_back(value.GetBool() ? 1 : 0);
  return true;
}

// The appender of a datatype; null for datatypes with no JSON form (FP16,
// BF16) and for names that are not datatypes.
AppendScalar AppenderFor(const std::string& datatype) {
  static const std::map<std::string, AppendScalar> kAppenders = {
      {"FP32", AppendFp32},
      {"FP64", AppendFp64},
      {"BYTES", AppendBytesElement},
      {"BOOL", AppendBool},
      {"UINT8", AppendInteger<uint8_t>},
      {"UINT16", AppendInteger<uint16_t>},
      {"UINT32", AppendInteger<uint32_t>},
      {"UINT64", AppendInteger<uint64_t>},
      {"INT8", AppendInteger<int8_t>},
      {"INT16", AppendInteger<int16_t>},
      {"INT32", AppendInteger<int32_t>},
      {"INT64", AppendInteger<int64_t>},
  };
  auto it = kAppenders.find(datatype);
  return it == kAppenders.end() ? nullptr : it->second;
}

// Flattens "data" (row-major, nested or flat) into raw bytes.
absl::Status AppendData(const std::string& where, const Value& data, AppendScalar append,
                        const std::string& datatype, int depth, std::string& raw,
                        int64_t& count) {
  if (!data.IsArray()) {
    if (!append(data, raw)) {
      return Invalid(absl::StrCat(where, ": element ", count, " of 'data' is not a ", datatype,
                                  " value"));
    }
    ++count;
    return absl::OkStatus();
  }
  if (depth >= kMaxDataDepth) {
    return Invalid(absl::StrCat(where, ": 'data' is nested deeper than ", kMaxDataDepth,
                                " levels"));
  }
  for (const Value& element : data.GetArray()) {
    if (element.IsArray()) {
      if (absl::Status s = AppendData(where, element, append, datatype, depth + 1, raw, count);
          !s.ok()) {
        return s;
      }
    } else if (!append(element, raw)) {
      return Invalid(absl::StrCat(where, ": element ", count, " of 'data' is not a ", datatype,
                                  " value"));
    } else {
      ++count;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status JsonToParameter(const std::string& where, const Value& value, InferParameter& out) {
  if (value.IsBool()) {
    out.set_bool_param(value.GetBool());
  } else if (value.IsInt64()) {
    out.set_int64_param(value.GetInt64());
  } else if (value.IsUint64()) {
    out.set_uint64_param(value.GetUint64());
  } else if (value.IsDouble()) {
    out.set_double_param(value.GetDouble());
  } else if (value.IsString()) {
    out.set_string_param(std::string(value.GetString(), value.GetStringLength()));
  } else {
    return Invalid(absl::StrCat(where, " must be a bool, number or string"));
  }
  return absl::OkStatus();
}

void WriteParameter(const InferParameter& parameter, JsonWriter& writer) {
  switch (parameter.parameter_choice_case()) {
    case InferParameter::kBoolParam: writer.Bool(parameter.bool_param()); break;
    case InferParameter::kInt64Param: writer.Int64(parameter.int64_param()); break;
    case InferParameter::kUint64Param: writer.Uint64(parameter.uint64_param()); break;
    case InferParameter::kDoubleParam: writer.Double(parameter.double_param()); break;
    case InferParameter::kStringParam:
      writer.String(parameter.string_param().data(),
                    static_cast<rapidjson::SizeType>(parameter.string_param().size()));
      break;
    default: writer.Null();
  }
}

absl::Status AppendJsonData(const std::string& where, const rapidjson::Value& data,
                            const std::string& datatype, std::string& raw, int64_t& count) {
  const AppendScalar append = AppenderFor(datatype);
  if (append == nullptr) {
    return Invalid(absl::StrCat(where, ": datatype '", datatype,
                                "' cannot be sent as JSON data (use binary data)"));
  }
  return AppendData(where, data, append, datatype, 0, raw, count);
}

}  // namespace convd
