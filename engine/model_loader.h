// Loads a model directory of the repository layout
//   <model>/config.pbtxt            inference::ModelConfig (engine/model_config.h)
//   <model>/<labels file>           optional, named by the output's label_filename
//   <model>/<version>/network.pbtxt convd network definition (platform
//                                   convd_network)
//   <model>/<version>/weights.safetensors   optional; else seeded He init
//   <model>/<version>/model.onnx    an ONNX model (platform onnx)
// into a ready-to-run ExecutionPlan per version.
#ifndef CONVD_ENGINE_MODEL_LOADER_H_
#define CONVD_ENGINE_MODEL_LOADER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/planner.h"
#include "proto/model_config.pb.h"

namespace convd {

struct LoadedModel {
  std::string directory;          // the model's directory (holds config.pbtxt)
  inference::ModelConfig config;  // normalized
  int64_t version = 0;
  bool generated_weights = false;  // true when no weights file was found
  std::vector<std::string> labels;  // empty without a label file
  std::shared_ptr<const ExecutionPlan> plan;
};

struct LoadOptions {
  // Replaces the config's algorithm_policy when set (e.g. convrun --algo).
  std::optional<AlgorithmPolicy> policy_override;
  // Batch size autotuning times candidates at (default: max_batch_size
  // capped at 8, a typical serving batch).
  std::optional<int> autotune_batch;
  std::optional<int64_t> version;  // LoadModel only; default: the highest
  // false: no CPU instance will run the plan (the GPU backend runs the
  // model), so an autotune policy plans the CPU's algorithms by the
  // heuristic instead of timing them; the plan keeps the policy for the GPU.
  bool autotune_cpu = true;
  // false: no GPU instance will run the plan (PlanOptions::gpu_runs_plan).
  bool gpu_runs_plan = true;
  // Replaces the policy's cpu_weights when set (convrun --cpu_weights).
  std::optional<AlgorithmPolicy::CpuWeights> cpu_weights_override;
  ThreadPool* thread_pool = nullptr;
};

// Reads, parses and normalizes <model_dir>/config.pbtxt. With
// `auto_complete`, what it leaves out (all of it, when there is none) is
// completed from the model's files first (engine/model_autocomplete.h).
absl::StatusOr<inference::ModelConfig> ReadModelConfig(const std::string& model_dir,
                                                       bool auto_complete = true);

// The numbered version folders of a model directory, ascending.
absl::StatusOr<std::vector<int64_t>> ListVersions(const std::string& model_dir);

// The versions the config's version_policy selects from `available`.
absl::StatusOr<std::vector<int64_t>> VersionsToServe(const inference::ModelConfig& config,
                                                     const std::vector<int64_t>& available);

// Loads one version with an already read config.
absl::StatusOr<LoadedModel> LoadModelVersion(const std::string& model_dir,
                                             const inference::ModelConfig& config,
                                             int64_t version, const LoadOptions& options);

// Reads the config and loads options.version (default: the highest).
absl::StatusOr<LoadedModel> LoadModel(const std::string& model_dir, const LoadOptions& options);

// Reads the network and its weights from one version directory and applies
// the graph passes; exposed for tools and tests.
absl::StatusOr<Graph> LoadNetworkGraph(const std::string& version_dir,
                                       bool* generated_weights = nullptr);

}  // namespace convd

#endif  // CONVD_ENGINE_MODEL_LOADER_H_
