// Triton's logging extension over convd's log (server/log.h): the settings
// by Triton's names, read and changed at run time over gRPC (LogSettings)
// and HTTP (GET/POST /v2/logging):
//   log_file           ""; convd logs to stderr, and that cannot change
//   log_info           INFO lines on or off
//   log_warning        WARNING lines
//   log_error          ERROR lines
//   log_verbose_level  0, or 1 and more: one access line per inference
//                      request (--log-level=debug)
//   log_format         "ISO8601" (convd's "2026-12-07T12:51:05.801Z I ...");
//                      Triton's other format, "default", is not written
//
//   RETURN_IF_ERROR(UpdateLogSettings(request));
//   *response = LogSettingsAsResponse();
//
// Thread safety: both functions may be called concurrently; updates apply
// one after the other, each whole.
#ifndef CONVD_SERVER_CORE_LOG_SETTINGS_H_
#define CONVD_SERVER_CORE_LOG_SETTINGS_H_

#include "absl/status/status.h"
#include "proto/inference.pb.h"

namespace convd {

// Every setting, with its value now.
inference::LogSettingsResponse LogSettingsAsResponse();

// Applies the settings the request names, all or none: an unknown name, a
// value of the wrong type, a missing value or one convd cannot take is
// INVALID_ARGUMENT naming the setting, and changes nothing.
absl::Status UpdateLogSettings(const inference::LogSettingsRequest& request);

}  // namespace convd

#endif  // CONVD_SERVER_CORE_LOG_SETTINGS_H_
