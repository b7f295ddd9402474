// The JSON bodies of the logging and trace extensions' endpoints
// (GET|POST /v2/logging, GET|POST /v2[/models/{m}]/trace/setting), to and
// from their protocol messages.
#ifndef CONVD_SERVER_HTTP_SETTINGS_JSON_H_
#define CONVD_SERVER_HTTP_SETTINGS_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/inference.pb.h"

namespace convd {

// {"log_info": false, "log_verbose_level": 1, ...}: each value by its JSON
// type (boolean, non-negative integer or string); an empty body names none.
absl::StatusOr<inference::LogSettingsRequest> ParseLogSettings(const std::string& body);
// Every setting, in name order.
std::string LogSettingsJson(const inference::LogSettingsResponse& response);

// {"trace_rate": "10", "trace_level": ["TIMESTAMPS"], "trace_count": null}:
// a string, an array of strings, or null (clear that setting), as
// tritonclient sends them; an integer is taken as its decimal string, for
// curl. An empty body names none. Anything else is INVALID_ARGUMENT.
absl::StatusOr<inference::TraceSettingRequest> ParseTraceSettings(const std::string& body,
                                                                  const std::string& model_name);
// Every setting, in name order: trace_level as an array, the rest strings.
std::string TraceSettingsJson(const inference::TraceSettingResponse& response);

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_SETTINGS_JSON_H_
