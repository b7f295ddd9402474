#include "server/http/json_proto.h"

#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "server/http/json_util.h"

namespace convd {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void WriteMessage(const Message& message, JsonWriter& writer);

// One value of `field` (element `index` when repeated, else -1).
void WriteValue(const Message& message, const FieldDescriptor* field, int index,
                JsonWriter& writer) {
  const Reflection* r = message.GetReflection();
  const bool repeated = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      writer.Int(repeated ? r->GetRepeatedInt32(message, field, index) : r->GetInt32(message, field));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      writer.Int64(repeated ? r->GetRepeatedInt64(message, field, index)
                            : r->GetInt64(message, field));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      writer.Uint(repeated ? r->GetRepeatedUInt32(message, field, index)
                           : r->GetUInt32(message, field));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      writer.Uint64(repeated ? r->GetRepeatedUInt64(message, field, index)
                             : r->GetUInt64(message, field));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      writer.Double(repeated ? r->GetRepeatedDouble(message, field, index)
                             : r->GetDouble(message, field));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      writer.Double(repeated ? r->GetRepeatedFloat(message, field, index)
                             : r->GetFloat(message, field));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      writer.Bool(repeated ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field));
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value = repeated ? r->GetRepeatedEnum(message, field, index)
                                   : r->GetEnum(message, field);
      writer.String(value->name().c_str(), static_cast<rapidjson::SizeType>(value->name().size()));
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& value =
          repeated ? r->GetRepeatedStringReference(message, field, index, &scratch)
                   : r->GetStringReference(message, field, &scratch);
      writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      WriteMessage(repeated ? r->GetRepeatedMessage(message, field, index)
                            : r->GetMessage(message, field),
                   writer);
      break;
  }
}

// A map entry's key as a JSON object key.
std::string MapKey(const Message& entry) {
  const FieldDescriptor* key = entry.GetDescriptor()->FindFieldByNumber(1);
  const Reflection* r = entry.GetReflection();
  switch (key->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: return r->GetString(entry, key);
    case FieldDescriptor::CPPTYPE_INT32: return std::to_string(r->GetInt32(entry, key));
    case FieldDescriptor::CPPTYPE_INT64: return std::to_string(r->GetInt64(entry, key));
    case FieldDescriptor::CPPTYPE_UINT32: return std::to_string(r->GetUInt32(entry, key));
    case FieldDescriptor::CPPTYPE_UINT64: return std::to_string(r->GetUInt64(entry, key));
    case FieldDescriptor::CPPTYPE_BOOL: return r->GetBool(entry, key) ? "true" : "false";
    default: return "";
  }
}

void WriteMessage(const Message& message, JsonWriter& writer) {
  const Descriptor* descriptor = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  writer.StartObject();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    const bool in_oneof = field->containing_oneof() != nullptr;
    if (!field->is_repeated() && (in_oneof || field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) &&
        !r->HasField(message, field)) {
      continue;
    }
    writer.Key(field->name().c_str(), static_cast<rapidjson::SizeType>(field->name().size()));
    if (field->is_map()) {
      writer.StartObject();
      const FieldDescriptor* value = field->message_type()->FindFieldByNumber(2);
      for (int j = 0; j < r->FieldSize(message, field); ++j) {
        const Message& entry = r->GetRepeatedMessage(message, field, j);
        const std::string key = MapKey(entry);
        writer.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
        WriteValue(entry, value, -1, writer);
      }
      writer.EndObject();
    } else if (field->is_repeated()) {
      writer.StartArray();
      for (int j = 0; j < r->FieldSize(message, field); ++j) WriteValue(message, field, j, writer);
      writer.EndArray();
    } else {
      WriteValue(message, field, -1, writer);
    }
  }
  writer.EndObject();
}

}  // namespace

std::string ProtoToJson(const Message& message) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  WriteMessage(message, writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace convd
