#include "server/core/bytes_tensor.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace convd {

void AppendBytesElement(std::string_view element, std::string& raw) {
  const uint32_t length = static_cast<uint32_t>(element.size());
  char prefix[4];
  std::memcpy(prefix, &length, 4);  // KServe BYTES: little-endian length prefix
  raw.append(prefix, 4);
  raw.append(element);
}

std::string SerializeBytesTensor(const std::vector<std::string>& elements) {
  std::string raw;
  for (const std::string& element : elements) AppendBytesElement(element, raw);
  return raw;
}

absl::Status SplitBytesTensor(std::string_view raw, std::vector<std::string_view>& elements) {
  while (!raw.empty()) {
    if (raw.size() < 4) {
      return absl::InvalidArgumentError(absl::StrCat(
          "BYTES element ", elements.size(), " has a truncated length prefix"));
    }
    uint32_t length = 0;
    std::memcpy(&length, raw.data(), 4);
    raw.remove_prefix(4);
    if (length > raw.size()) {
      return absl::InvalidArgumentError(absl::StrCat("BYTES element ", elements.size(),
                                                     " claims ", length, " bytes; ",
                                                     raw.size(), " remain"));
    }
    elements.push_back(raw.substr(0, length));
    raw.remove_prefix(length);
  }
  return absl::OkStatus();
}

}  // namespace convd
