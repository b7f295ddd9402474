// Model configuration (proto/model_config.proto): parsing, defaults and
// validation, in one place for the loader, the server and the tools.
//
// NormalizeModelConfig fills every default explicitly, so the config served
// to clients is exactly the one the server runs with:
//   name            the model directory's name (a given name must match it)
//   platform        "convd_network"
//   version_policy  latest { num_versions: 1 }
//   input/output    data_type TYPE_FP32, input format FORMAT_NCHW,
//                   normalization scale 1/255, mean 0, std 1
//   instance_group  one group { count: 1 kind: KIND_AUTO }
//   dynamic_batching (when present) preferred sizes sorted; queue policy
//                   defaults are Triton's (no timeout, unbounded queue);
//                   priority levels and their policies checked in range
// and rejects what convd cannot serve, naming the field and the value.
#ifndef CONVD_ENGINE_MODEL_CONFIG_H_
#define CONVD_ENGINE_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "engine/planner.h"
#include "proto/model_config.pb.h"

namespace convd {

inline constexpr char kPlatformNetwork[] = "convd_network";
inline constexpr char kPlatformOnnx[] = "onnx";
// inline_run_limit_microseconds when a config leaves it out, and its most:
// LeNet-sized passes run on the receiving thread, AlexNet-sized ones do not.
inline constexpr uint64_t kDefaultInlineRunLimitMicroseconds = 300;
inline constexpr uint64_t kMaxInlineRunLimitMicroseconds = 100000;

// Parses config.pbtxt text (protobuf text format).
absl::StatusOr<inference::ModelConfig> ParseModelConfig(const std::string& text);
// Parses a config in protobuf's JSON mapping: what GET .../config returns,
// and what Triton's RepositoryModelLoad takes in its "config" parameter.
// Fields convd's ModelConfig lacks are an error naming them.
absl::StatusOr<inference::ModelConfig> ParseModelConfigJson(const std::string& json);

// Fills defaults and checks the graph-independent rules. `directory_name`
// is the model directory's name.
absl::Status NormalizeModelConfig(const std::string& directory_name,
                                  inference::ModelConfig& config);

// Checks the config's input and output dims against the loaded network.
absl::Status ValidateConfigAgainstGraph(const inference::ModelConfig& config,
                                        const Graph& graph);

// Model and version names reach the file system: letters, digits, '_',
// '-' and '.', not starting with '.', at most 128 characters.
absl::Status ValidateModelName(const std::string& name);
// A version is a positive decimal number.
absl::StatusOr<int64_t> ParseVersion(const std::string& version);

// Converts the config's algorithm policy into the planner's.
absl::StatusOr<AlgorithmPolicy> PolicyFromConfig(const inference::AlgorithmPolicyConfig& config);

// The KServe datatype string for a config data type ("FP32", "UINT8", ...).
std::string DataTypeName(inference::DataType type);

// The queue policy of requests at `priority_level`: dynamic_batching's
// priority_queue_policy entry for the level, else default_queue_policy
// (all defaults without dynamic_batching).
const inference::ModelQueuePolicy& QueuePolicy(const inference::ModelConfig& config,
                                               uint64_t priority_level);
// The priority level of a request whose "priority" parameter is
// `requested` (0: none given): default_priority_level for 0; 0 for any
// request to a model without priority_levels (one level, as in Triton);
// INVALID_ARGUMENT, naming the range, beyond priority_levels.
absl::StatusOr<uint64_t> RequestPriorityLevel(const inference::ModelConfig& config,
                                              uint64_t requested);

// Total instances over the config's instance groups.
int InstanceCount(const inference::ModelConfig& config);

}  // namespace convd

#endif  // CONVD_ENGINE_MODEL_CONFIG_H_
