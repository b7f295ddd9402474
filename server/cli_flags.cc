#include "server/cli_flags.h"

#include <deque>
#include <optional>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

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

namespace {

// Rewrites `args` so that each repeatable flag occurs once, as
// --name=<values joined by '\n'>, where it first occurred. `storage` keeps
// the rewritten arguments alive for the process.
void JoinRepeatedFlags(std::vector<char*>& args, const std::vector<std::string>& repeatable,
                       std::deque<std::string>& storage) {
  for (const std::string& name : repeatable) {
    const std::string bare = "--" + name;
    std::vector<std::string> values;
    std::optional<size_t> first;
    std::vector<char*> kept;
    for (size_t i = 0; i < args.size(); ++i) {
      const absl::string_view arg = args[i];
      if (arg == "--") {  // the rest is positional
        kept.insert(kept.end(), args.begin() + i, args.end());
        break;
      }
      if (arg == bare && i + 1 < args.size()) {
        values.emplace_back(args[++i]);
      } else if (absl::StartsWith(arg, bare + "=")) {
        values.emplace_back(arg.substr(bare.size() + 1));
      } else {
        kept.push_back(args[i]);
        continue;
      }
      if (!first.has_value()) {
        first = kept.size();
        kept.push_back(nullptr);  // filled below
      }
    }
    if (!first.has_value()) continue;
    storage.push_back(absl::StrCat(bare, "=", absl::StrJoin(values, "\n")));
    kept[*first] = storage.back().data();
    args = std::move(kept);
  }
}

}  // namespace

std::vector<std::string> RepeatedFlagValues(const std::string& flag_value) {
  if (flag_value.empty()) return {};
  return absl::StrSplit(flag_value, '\n');
}

std::vector<char*> ParseCommandLine(int argc, char** argv, const std::string& usage,
                                    const std::string& help_source,
                                    const std::vector<std::string>& repeatable) {
  absl::SetProgramUsageMessage(usage);
  if (!help_source.empty()) {
    absl::FlagsUsageConfig config;
    config.contains_help_flags = [help_source](absl::string_view file) {
      return absl::StrContains(file, help_source);
    };
    absl::SetFlagsUsageConfig(config);
  }
  DashesToUnderscores(argc, argv);
  std::vector<char*> args(argv, argv + argc);
  static std::deque<std::string> joined_flags;  // the rewritten arguments
  JoinRepeatedFlags(args, repeatable, joined_flags);
  return absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
}

}  // namespace convd
