// Small JSON helpers shared by the HTTP front end (RapidJSON underneath).
#ifndef CONVD_SERVER_HTTP_JSON_UTIL_H_
#define CONVD_SERVER_HTTP_JSON_UTIL_H_

#include <string>
#include <string_view>

namespace convd {

// `text` as a JSON string literal, quoted and escaped.
std::string JsonQuote(std::string_view text);

// {"error":"<message>"}: the KServe v2 REST error body.
std::string ErrorJson(std::string_view message);

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_JSON_UTIL_H_
