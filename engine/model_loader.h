// Loads a model directory of the repository layout
//   <model>/config.pbtxt            config::ModelConfig (proto/model_config.proto)
//   <model>/<version>/network.pbtxt convd network definition
//   <model>/<version>/weights.safetensors   optional; else seeded He init
// into a ready-to-run ExecutionPlan. The highest numeric version is loaded
// unless one is named.
#ifndef CONVD_ENGINE_MODEL_LOADER_H_
#define CONVD_ENGINE_MODEL_LOADER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/planner.h"
#include "proto/model_config.pb.h"

namespace convd {

struct LoadedModel {
  config::ModelConfig config;
  int64_t version = 0;
  bool generated_weights = false;  // true when no weights file was found
  std::shared_ptr<const ExecutionPlan> plan;
};

struct LoadOptions {
  // Replaces the config's algorithm_policy when set (e.g. convrun --algo).
  std::optional<AlgorithmPolicy> policy_override;
  // Batch size autotuning times candidates at (default: max_batch_size
  // capped at 8, a typical serving batch).
  std::optional<int> autotune_batch;
  std::optional<int64_t> version;  // default: the highest
  ThreadPool* thread_pool = nullptr;
};

absl::StatusOr<LoadedModel> LoadModel(const std::string& model_dir,
                                      const LoadOptions& options);

// Reads the network and its weights from one version directory and applies
// the graph passes; exposed for tools and tests.
absl::StatusOr<Graph> LoadNetworkGraph(const std::string& version_dir,
                                       bool* generated_weights = nullptr);

absl::StatusOr<config::ModelConfig> ParseModelConfig(const std::string& text);

// Converts the config's policy into the planner's.
absl::StatusOr<AlgorithmPolicy> PolicyFromConfig(const config::AlgorithmPolicyConfig& config);

}  // namespace convd

#endif  // CONVD_ENGINE_MODEL_LOADER_H_
