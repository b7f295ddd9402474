#include "server/core/log_settings.h"

#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/log.h"

namespace convd {
namespace {

using Value = inference::LogSettingsRequest::SettingValue;

constexpr char kFormat[] = "ISO8601";

// Updates read the settings, change some and write them all back: two at
// once would each lose the other's changes.
std::mutex& UpdateMutex() {
  static std::mutex mutex;
  return mutex;
}

absl::Status WrongType(const std::string& name, const char* wanted) {
  return absl::InvalidArgumentError(
      absl::StrCat("log setting '", name, "' takes a ", wanted, " value"));
}

}  // namespace

inference::LogSettingsResponse LogSettingsAsResponse() {
  const LogSettings now = CurrentLogSettings();
  inference::LogSettingsResponse response;
  auto& settings = *response.mutable_settings();
  settings["log_file"].set_string_param("");
  settings["log_info"].set_bool_param(now.info);
  settings["log_warning"].set_bool_param(now.warning);
  settings["log_error"].set_bool_param(now.error);
  settings["log_verbose_level"].set_uint32_param(now.verbose_level);
  settings["log_format"].set_string_param(kFormat);
  return response;
}

absl::Status UpdateLogSettings(const inference::LogSettingsRequest& request) {
  std::lock_guard<std::mutex> lock(UpdateMutex());
  LogSettings next = CurrentLogSettings();
  for (const auto& [name, value] : request.settings()) {
    if (value.parameter_choice_case() == Value::PARAMETER_CHOICE_NOT_SET) {
      return absl::InvalidArgumentError(absl::StrCat("log setting '", name, "' has no value"));
    }
    const bool is_bool = value.parameter_choice_case() == Value::kBoolParam;
    const bool is_string = value.parameter_choice_case() == Value::kStringParam;
    if (name == "log_info" || name == "log_warning" || name == "log_error") {
      if (!is_bool) return WrongType(name, "boolean");
      bool& flag = name == "log_info"      ? next.info
                   : name == "log_warning" ? next.warning
                                           : next.error;
      flag = value.bool_param();
    } else if (name == "log_verbose_level") {
      if (value.parameter_choice_case() != Value::kUint32Param) {
        return WrongType(name, "non-negative integer");
      }
      next.verbose_level = value.uint32_param();
    } else if (name == "log_file") {
      if (!is_string) return WrongType(name, "string");
      if (!value.string_param().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("log setting 'log_file': convd logs to stderr (redirect it, or read the "
                         "container's log); got '",
                         value.string_param(), "'"));
      }
    } else if (name == "log_format") {
      if (!is_string) return WrongType(name, "string");
      if (value.string_param() != kFormat) {
        return absl::InvalidArgumentError(absl::StrCat("log setting 'log_format': convd writes '",
                                                       kFormat, "' only; got '",
                                                       value.string_param(), "'"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown log setting '", name,
          "'; convd has log_file, log_info, log_warning, log_error, log_verbose_level, "
          "log_format"));
    }
  }
  SetLogSettings(next);
  return absl::OkStatus();
}

}  // namespace convd
