// Minimal timestamped logging to stderr for the daemon, so operators see
// what loaded, what failed and when the server drains; with verbose
// logging on, one access line per inference request.
#ifndef CONVD_SERVER_LOG_H_
#define CONVD_SERVER_LOG_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace convd {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Which lines are written; changed at run time by --log-level at start and
// by Triton's logging extension (server/core/log_settings.h). kDebug lines
// are the verbose ones, written at verbose level 1 and above.
struct LogSettings {
  bool info = true;
  bool warning = true;
  bool error = true;
  uint32_t verbose_level = 0;
};

// Thread safe; each field is read and written on its own.
LogSettings CurrentLogSettings();
void SetLogSettings(const LogSettings& settings);
// `level` and the levels above it on, the ones below off (kDebug: verbose
// level 1).
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// "debug", "info", "warning", "error"; nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// One line: "<UTC time> <level> <message>". Thread safe.
void Log(LogLevel level, std::string_view message);

}  // namespace convd

#endif  // CONVD_SERVER_LOG_H_
