#include "server/http/json_util.h"

namespace convd {

std::string JsonQuote(std::string_view text) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string ErrorJson(std::string_view message) {
  return "{\"error\":" + JsonQuote(message) + "}";
}

}  // namespace convd
