// Command-line conventions shared by convd, convctl and convload.
#ifndef CONVD_SERVER_CLI_FLAGS_H_
#define CONVD_SERVER_CLI_FLAGS_H_

namespace convd {

// Flags are documented with dashes (--model-repository) as users expect;
// Abseil names them with underscores. Rewrites the name part of each
// "--flag[=value]" argument in place, before absl::ParseCommandLine.
// Arguments after "--" and those not starting with "--" are left alone.
void DashesToUnderscores(int argc, char** argv);

}  // namespace convd

#endif  // CONVD_SERVER_CLI_FLAGS_H_
