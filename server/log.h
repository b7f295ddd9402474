// Minimal timestamped logging to stderr for the daemon, so operators see
// what loaded, what failed and when the server drains; at kDebug, one
// access line per inference request.
#ifndef CONVD_SERVER_LOG_H_
#define CONVD_SERVER_LOG_H_

#include <optional>
#include <string_view>

namespace convd {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Lines below `level` are dropped (default kInfo). Thread safe.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// "debug", "info", "warning", "error"; nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// One line: "<UTC time> <level> <message>". Thread safe.
void Log(LogLevel level, std::string_view message);

}  // namespace convd

#endif  // CONVD_SERVER_LOG_H_
