#include "server/log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace convd {
namespace {

std::atomic<bool> info_on{true}, warning_on{true}, error_on{true};
std::atomic<uint32_t> verbose{0};

}  // namespace

LogSettings CurrentLogSettings() {
  return {.info = info_on.load(),
          .warning = warning_on.load(),
          .error = error_on.load(),
          .verbose_level = verbose.load()};
}

void SetLogSettings(const LogSettings& settings) {
  info_on.store(settings.info);
  warning_on.store(settings.warning);
  error_on.store(settings.error);
  verbose.store(settings.verbose_level);
}

void SetLogLevel(LogLevel level) {
  SetLogSettings({.info = level <= LogLevel::kInfo,
                  .warning = level <= LogLevel::kWarning,
                  .error = true,
                  .verbose_level = level == LogLevel::kDebug ? 1u : 0u});
}

bool LogEnabled(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return verbose.load(std::memory_order_relaxed) > 0;
    case LogLevel::kInfo:
      return info_on.load(std::memory_order_relaxed);
    case LogLevel::kWarning:
      return warning_on.load(std::memory_order_relaxed);
    case LogLevel::kError:
      break;
  }
  return error_on.load(std::memory_order_relaxed);
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warning") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

void Log(LogLevel level, std::string_view message) {
  if (!LogEnabled(level)) return;
  static constexpr const char* kTags[] = {"D", "I", "W", "E"};
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  // One fprintf per line: stdio locks the stream, so lines never interleave.
  std::fprintf(stderr, "%s %s %.*s\n", time.c_str(), kTags[static_cast<int>(level)],
               static_cast<int>(message.size()), message.data());
}

}  // namespace convd
