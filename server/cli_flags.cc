#include "server/cli_flags.h"

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace convd {

void DashesToUnderscores(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (arg[0] != '-' || arg[1] != '-') continue;
    if (arg[2] == '\0') break;  // "--" ends the flags
    for (char* c = arg + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
}

std::vector<char*> ParseCommandLine(int argc, char** argv, const std::string& usage,
                                    const std::string& help_source) {
  absl::SetProgramUsageMessage(usage);
  if (!help_source.empty()) {
    absl::FlagsUsageConfig config;
    config.contains_help_flags = [help_source](absl::string_view file) {
      return absl::StrContains(file, help_source);
    };
    absl::SetFlagsUsageConfig(config);
  }
  DashesToUnderscores(argc, argv);
  return absl::ParseCommandLine(argc, argv);
}

}  // namespace convd
