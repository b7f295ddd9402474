// Builds a Graph from convd's network definition (proto/network.proto):
// validates names, references and attribute lists, then infers shapes.
// Weights are attached separately (engine/weights.h).
#ifndef CONVD_ENGINE_NETWORK_LOADER_H_
#define CONVD_ENGINE_NETWORK_LOADER_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "proto/network.pb.h"

namespace convd {

// Parses the protobuf text format; errors carry the parser's line:column.
absl::StatusOr<NetworkDef> ParseNetworkDef(std::string_view text);

absl::StatusOr<Graph> GraphFromNetworkDef(const NetworkDef& definition);

}  // namespace convd

#endif  // CONVD_ENGINE_NETWORK_LOADER_H_
