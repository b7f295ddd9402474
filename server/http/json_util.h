// Small JSON helpers shared by the HTTP front end (RapidJSON underneath).
#ifndef CONVD_SERVER_HTTP_JSON_UTIL_H_
#define CONVD_SERVER_HTTP_JSON_UTIL_H_

#include <string>
#include <string_view>

#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace convd {

// convd's JSON dialect, everywhere it reads or writes JSON, is Triton's:
// NaN, Infinity and -Infinity are bare words both ways, so an FP32 tensor
// crosses REST with whatever values it holds (perf_analyzer's random JSON
// inputs include NaN). Parsing is iterative: nesting cannot exhaust the
// stack.
inline constexpr unsigned kJsonParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseNanAndInfFlag;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                     rapidjson::CrtAllocator, rapidjson::kWriteNanAndInfFlag>;

// `text` as a JSON string literal, quoted and escaped.
std::string JsonQuote(std::string_view text);

// {"error":"<message>"}: the KServe v2 REST error body.
std::string ErrorJson(std::string_view message);

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_JSON_UTIL_H_
