#include "server/http/multipart.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace convd {
namespace {

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

// The value of `key="..."` (or key=token) in a header's parameters.
std::string Parameter(absl::string_view header, absl::string_view key) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (!absl::StartsWithIgnoreCase(part, absl::StrCat(key, "="))) continue;
    absl::string_view value = part.substr(key.size() + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return "";
}

}  // namespace

absl::StatusOr<std::string> MultipartBoundary(std::string_view content_type) {
  const absl::string_view type(content_type.data(), content_type.size());
  if (!absl::StartsWithIgnoreCase(absl::StripLeadingAsciiWhitespace(type), "multipart/form-data")) {
    return Invalid(absl::StrCat("Content-Type '", type, "' is not multipart/form-data"));
  }
  std::string boundary = Parameter(type, "boundary");
  if (boundary.empty() || boundary.size() > 70) {
    return Invalid("multipart/form-data needs a boundary of 1 to 70 characters");
  }
  return boundary;
}

absl::StatusOr<std::vector<MultipartPart>> ParseMultipart(std::string_view body,
                                                          std::string_view boundary) {
  const std::string delimiter = absl::StrCat("--", absl::string_view(boundary.data(), boundary.size()));
  const std::string separator = "\r\n" + delimiter;
  size_t at = body.find(delimiter);
  if (at == std::string_view::npos) {
    return Invalid("multipart body has no boundary line");
  }
  std::vector<MultipartPart> parts;
  at += delimiter.size();
  while (true) {
    if (body.substr(at, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(at, 2) != "\r\n") {
      return Invalid(absl::StrCat("multipart part ", parts.size(), ": malformed boundary line"));
    }
    at += 2;
    const size_t headers_end = body.find("\r\n\r\n", at);
    if (headers_end == std::string_view::npos) {
      return Invalid(absl::StrCat("multipart part ", parts.size(), ": headers do not end"));
    }
    MultipartPart part;
    const absl::string_view headers(body.data() + at, headers_end - at);
    for (absl::string_view line : absl::StrSplit(headers, "\r\n")) {
      if (absl::StartsWithIgnoreCase(line, "content-disposition:")) {
        part.name = Parameter(line, "name");
        part.filename = Parameter(line, "filename");
      }
    }
    const size_t data_begin = headers_end + 4;
    const size_t data_end = body.find(separator, data_begin);
    if (data_end == std::string_view::npos) {
      return Invalid(absl::StrCat("multipart part ", parts.size(),
                                  " is not closed by a boundary (truncated body?)"));
    }
    part.data = body.substr(data_begin, data_end - data_begin);
    parts.push_back(std::move(part));
    at = data_end + separator.size();
  }
}

}  // namespace convd
