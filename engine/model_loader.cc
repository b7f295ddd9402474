#include "engine/model_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/graph_passes.h"
#include "engine/network_loader.h"
#include "engine/safetensors.h"
#include "engine/status_macros.h"
#include "engine/weights.h"
#include "google/protobuf/text_format.h"

namespace convd {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path.string()));
  return contents.str();
}

absl::StatusOr<int64_t> LatestVersion(const fs::path& model_dir) {
  int64_t latest = -1;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(model_dir, error)) {
    int64_t version;
    if (entry.is_directory() && absl::SimpleAtoi(entry.path().filename().string(), &version) &&
        version > 0) {
      latest = std::max(latest, version);
    }
  }
  if (error) {
    return absl::NotFoundError(absl::StrCat("cannot list ", model_dir.string(), ": ",
                                            error.message()));
  }
  if (latest < 0) {
    return absl::NotFoundError(absl::StrCat(
        "model directory ", model_dir.string(), " has no numbered version folder"));
  }
  return latest;
}

}  // namespace

absl::StatusOr<config::ModelConfig> ParseModelConfig(const std::string& text) {
  config::ModelConfig config;
  if (!google::protobuf::TextFormat::ParseFromString(text, &config)) {
    return absl::InvalidArgumentError("config.pbtxt does not parse as a ModelConfig");
  }
  if (config.max_batch_size() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.pbtxt: max_batch_size must be at least 1; got ", config.max_batch_size()));
  }
  return config;
}

absl::StatusOr<AlgorithmPolicy> PolicyFromConfig(const config::AlgorithmPolicyConfig& config) {
  AlgorithmPolicy policy;
  switch (config.mode()) {
    case config::AlgorithmPolicyConfig::AUTO:
      break;
    case config::AlgorithmPolicyConfig::AUTOTUNE:
      policy.mode = AlgorithmPolicy::Mode::kAutotune;
      break;
    case config::AlgorithmPolicyConfig::FORCED: {
      ASSIGN_OR_RETURN(policy, PolicyFromName(config.algorithm()));
      if (policy.mode != AlgorithmPolicy::Mode::kForced) {
        return absl::InvalidArgumentError(absl::StrCat(
            "algorithm_policy FORCED needs an algorithm name; got '", config.algorithm(), "'"));
      }
      break;
    }
  }
  for (const auto& [layer, algorithm] : config.layer_algorithm()) {
    policy.per_layer[layer] = algorithm;
  }
  return policy;
}

absl::StatusOr<Graph> LoadNetworkGraph(const std::string& version_dir,
                                       bool* generated_weights) {
  const fs::path dir(version_dir);
  ASSIGN_OR_RETURN(std::string text, ReadFile(dir / "network.pbtxt"));
  ASSIGN_OR_RETURN(NetworkDef definition, ParseNetworkDef(text));
  ASSIGN_OR_RETURN(Graph graph, GraphFromNetworkDef(definition));
  const fs::path weights_path = dir / "weights.safetensors";
  const bool has_weights = fs::exists(weights_path);
  if (has_weights) {
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(weights_path));
    auto tensors = ParseSafetensors(bytes);
    if (!tensors.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(weights_path.string(), ": ", tensors.status().message()));
    }
    RETURN_IF_ERROR(AttachWeights(*tensors, graph));
  } else {
    InitializeHeWeights(definition.init_seed(), graph);
  }
  if (generated_weights != nullptr) *generated_weights = !has_weights;
  SimplifyGraph(graph);
  return graph;
}

absl::StatusOr<LoadedModel> LoadModel(const std::string& model_dir,
                                      const LoadOptions& options) {
  const fs::path dir(model_dir);
  LoadedModel model;
  ASSIGN_OR_RETURN(std::string config_text, ReadFile(dir / "config.pbtxt"));
  ASSIGN_OR_RETURN(model.config, ParseModelConfig(config_text));
  if (model.config.name().empty()) model.config.set_name(dir.filename().string());
  if (options.version.has_value()) {
    model.version = *options.version;
  } else {
    ASSIGN_OR_RETURN(model.version, LatestVersion(dir));
  }
  ASSIGN_OR_RETURN(Graph graph, LoadNetworkGraph((dir / std::to_string(model.version)).string(),
                                                 &model.generated_weights));
  if (graph.name.empty()) graph.name = model.config.name();
  // The config's input dims, when given, must match the network's.
  if (model.config.input_size() > 0 && model.config.input(0).dims_size() == 3) {
    const auto& dims = model.config.input(0).dims();
    const TensorShape& in = graph.input().output;
    if (dims[0] != in.c || dims[1] != in.h || dims[2] != in.w) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config.pbtxt input dims [", dims[0], ", ", dims[1], ", ", dims[2],
          "] do not match the network input ", in.ToString()));
    }
  }
  PlanOptions plan_options;
  if (options.policy_override.has_value()) {
    plan_options.policy = *options.policy_override;
  } else {
    ASSIGN_OR_RETURN(plan_options.policy, PolicyFromConfig(model.config.algorithm_policy()));
  }
  plan_options.autotune_batch =
      options.autotune_batch.value_or(std::min(8, model.config.max_batch_size()));
  plan_options.thread_pool = options.thread_pool;
  ASSIGN_OR_RETURN(std::unique_ptr<ExecutionPlan> plan, Plan(std::move(graph), plan_options));
  model.plan = std::move(plan);
  return model;
}

}  // namespace convd
