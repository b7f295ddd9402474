// convctl: talk to a running convd (or any KServe v2 server) from a shell.
//
//   convctl health
//   convctl --url http://localhost:8000 classify lenet5 shoe.png -k 3 --stats
//   convctl infer alexnet --random --batch 4 --json
//
// Tables for people by default, --json for scripts. Exit status: 0 done,
// 1 the server or the request failed (message on stderr), 2 bad command line.
#include "client/convctl.h"

#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/connection_flags.h"
#include "server/cli_flags.h"
#include "server/mutex_settings.h"

ABSL_FLAG(std::string, url, "localhost:8001",
          "Server: [grpc://|http://]host[:port] (gRPC 8001 and HTTP 8000 by default).");
ABSL_FLAG(bool, json, false, "Print JSON instead of tables.");
ABSL_FLAG(std::string, model_version, "", "Model version (default: the latest).");
ABSL_FLAG(std::string, input, "", "infer: the input tensor as a .npy file.");
ABSL_FLAG(bool, random, false, "infer: a random input (uniform [0,1) floats or bytes).");
ABSL_FLAG(int, batch, 1, "infer --random: batch rows.");
ABSL_FLAG(std::string, output, "", "infer: write the first output to this .npy file.");
ABSL_FLAG(int, k, 5, "classify/infer: how many top classes to show.");
ABSL_FLAG(bool, stats, false,
          "classify/infer: also print the per-layer table of the forward pass.");
ABSL_FLAG(int, timeout_seconds, 60, "Deadline of each call to the server.");
ABSL_FLAG(uint64_t, priority, 0,
          "classify/infer: the request's priority level (1 the highest); 0: none (the model's "
          "default).");
ABSL_FLAG(std::string, config, "",
          "load: the model config to load with, in place of the repository's config.pbtxt: "
          "a JSON file (as `config MODEL --json` prints it) or config.pbtxt text.");

namespace {

constexpr char kUsage[] = R"(convctl [--url host:port] COMMAND [ARGS] [--json]

Commands:
  health                      liveness, readiness, server metadata and models
  models                      the repository index
  metadata MODEL              inputs and outputs
  config MODEL                the model's configuration (config.pbtxt form)
  infer MODEL --input FILE.npy | --random [--batch N] [--output OUT.npy] [-k 5] [--stats]
  classify MODEL IMAGE... [-k 5] [--stats]
                              PNG/JPEG files, top-k labelled classes per image
  stats [MODEL]               request counts and queue/compute times
  load MODEL [--config FILE] | unload MODEL
                              with convd --model-control=explicit; --config: a
                              config (JSON or config.pbtxt text) for this load

--url grpc://host:8001 (the default protocol) or http://host:8000; --ssl
[--root-cert F] [--client-cert F --client-key F] for gRPC over TLS;
--header NAME=VALUE (repeatable) for restricted APIs.)";

}  // namespace

int main(int argc, char** argv) {
  convd::DisableMutexDeadlockDetection();  // as convd does (server/mutex_settings.h)
  std::vector<char*> positional = convd::ParseCommandLine(
      argc, argv, kUsage, /*help_source=*/"client/", convd::client::kRepeatableConnectionFlags);
  if (positional.size() < 2) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  convd::client::Command command{positional[1], {positional.begin() + 2, positional.end()}};

  auto url = convd::client::ParseServerUrl(absl::GetFlag(FLAGS_url));
  if (!url.ok()) {
    std::fprintf(stderr, "convctl: %s\n", std::string(url.status().message()).c_str());
    return 2;
  }
  convd::client::ConvctlOptions options;
  options.json = absl::GetFlag(FLAGS_json);
  options.model_version = absl::GetFlag(FLAGS_model_version);
  options.input_npy = absl::GetFlag(FLAGS_input);
  options.random_input = absl::GetFlag(FLAGS_random);
  options.batch = absl::GetFlag(FLAGS_batch);
  options.output_npy = absl::GetFlag(FLAGS_output);
  options.top_k = absl::GetFlag(FLAGS_k);
  options.layer_stats = absl::GetFlag(FLAGS_stats);
  options.priority = absl::GetFlag(FLAGS_priority);
  options.config_file = absl::GetFlag(FLAGS_config);
  convd::client::ClientOptions client_options;
  client_options.timeout = std::chrono::seconds(std::max(1, absl::GetFlag(FLAGS_timeout_seconds)));
  if (absl::Status s = convd::client::ApplyConnectionFlags(*url, client_options); !s.ok()) {
    std::fprintf(stderr, "convctl: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto client = convd::client::CreateClient(*url, client_options);

  const absl::Status status =
      convd::client::RunCommand(command, options, *client, url->ToString(), std::cout);
  std::cout.flush();
  if (!status.ok()) {
    std::fprintf(stderr, "convctl: %s\n", status.ToString().c_str());
    return status.code() == absl::StatusCode::kInvalidArgument &&
                   absl::StrContains(status.message(), "convctl --help")
               ? 2
               : 1;
  }
  return 0;
}
