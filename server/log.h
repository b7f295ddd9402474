// Minimal timestamped logging to stderr for the daemon, so operators see
// what loaded, what failed and when the server drains.
#ifndef CONVD_SERVER_LOG_H_
#define CONVD_SERVER_LOG_H_

#include <string_view>

namespace convd {

enum class LogLevel { kInfo, kWarning, kError };

// One line: "<UTC time> <level> <message>". Thread safe.
void Log(LogLevel level, std::string_view message);

}  // namespace convd

#endif  // CONVD_SERVER_LOG_H_
