// Command-line conventions shared by convd, convctl and convload.
#ifndef CONVD_SERVER_CLI_FLAGS_H_
#define CONVD_SERVER_CLI_FLAGS_H_

#include <string>
#include <vector>

namespace convd {

// Flags are documented with dashes (--model-repository) as users expect;
// Abseil names them with underscores. Rewrites the name part of each
// "--flag[=value]" argument in place, before absl::ParseCommandLine.
// Arguments after "--" and those not starting with "--" are left alone.
void DashesToUnderscores(int argc, char** argv);

// Everything a convd program does to read its command line: `usage` for
// --help, dashes accepted, flags parsed (a bad flag exits with Abseil's
// message). `help_source`, when not empty, limits --help to the flags
// defined in files whose path contains it (the program's own, not every
// library's). Returns the positional arguments, argv[0] first.
// `repeatable` names (with underscores) string flags that may be given
// several times, as Triton's restricted-API flags are: every occurrence is
// kept, and the flag's value is their values joined by '\n' (which no
// argument a shell passes on one line holds); RepeatedFlagValues splits it.
std::vector<char*> ParseCommandLine(int argc, char** argv, const std::string& usage,
                                    const std::string& help_source = "",
                                    const std::vector<std::string>& repeatable = {});

// The values of a repeatable flag, in the order given; none when unset.
std::vector<std::string> RepeatedFlagValues(const std::string& flag_value);

}  // namespace convd

#endif  // CONVD_SERVER_CLI_FLAGS_H_
