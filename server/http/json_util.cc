#include "server/http/json_util.h"

#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace convd {

std::string JsonQuote(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string ErrorJson(std::string_view message) {
  return "{\"error\":" + JsonQuote(message) + "}";
}

}  // namespace convd
