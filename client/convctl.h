// convctl's commands: each talks to one server through a Client, prints a
// table (or JSON with --json) to `out`, and returns an error Status for
// convctl to print and turn into a non-zero exit.
#ifndef CONVD_CLIENT_CONVCTL_H_
#define CONVD_CLIENT_CONVCTL_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/client.h"

namespace convd::client {

struct ConvctlOptions {
  bool json = false;          // JSON instead of tables
  std::string model_version;  // empty: the latest
  // infer
  std::string input_npy;      // --input FILE.npy
  bool random_input = false;  // --random
  int batch = 1;              // rows of a --random input
  std::string output_npy;     // --output FILE.npy: the first output
  // classify and infer
  int top_k = 5;
  bool layer_stats = false;   // --stats: the per-layer table of the forward pass
  uint64_t priority = 0;      // --priority: the request's level; 0: none sent
  // load
  std::string config_file;  // --config FILE: JSON or config.pbtxt text
};

struct Command {
  std::string name;
  std::vector<std::string> args;  // after the command name
};

// Runs one command. INVALID_ARGUMENT with a usage hint for a bad command
// line; the server's error otherwise.
absl::Status RunCommand(const Command& command, const ConvctlOptions& options, Client& client,
                        const std::string& server, std::ostream& out);

// The per-command entry points RunCommand dispatches to.
absl::Status Health(Client& client, const std::string& server, const ConvctlOptions& options,
                    std::ostream& out);
absl::Status Models(Client& client, const ConvctlOptions& options, std::ostream& out);
absl::Status Metadata(Client& client, const std::string& model, const ConvctlOptions& options,
                      std::ostream& out);
absl::Status Config(Client& client, const std::string& model, const ConvctlOptions& options,
                    std::ostream& out);
absl::Status Stats(Client& client, const std::string& model, const ConvctlOptions& options,
                   std::ostream& out);
absl::Status Infer(Client& client, const std::string& model, const ConvctlOptions& options,
                   std::ostream& out);
absl::Status Classify(Client& client, const std::string& model,
                      const std::vector<std::string>& images, const ConvctlOptions& options,
                      std::ostream& out);

}  // namespace convd::client

#endif  // CONVD_CLIENT_CONVCTL_H_
