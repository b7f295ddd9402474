#include "engine/model_loader.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/file_util.h"
#include "engine/graph_passes.h"
#include "engine/model_autocomplete.h"
#include "engine/model_config.h"
#include "engine/network_loader.h"
#include "engine/onnx_loader.h"
#include "engine/safetensors.h"
#include "engine/status_macros.h"
#include "engine/weights.h"

namespace convd {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::vector<std::string>> ReadLabels(const fs::path& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path.string()));
  std::vector<std::string> labels = absl::StrSplit(text, '\n');
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  for (std::string& label : labels) {
    if (!label.empty() && label.back() == '\r') label.pop_back();
  }
  return labels;
}

}  // namespace

absl::StatusOr<inference::ModelConfig> ReadModelConfig(const std::string& model_dir,
                                                       bool auto_complete) {
  const fs::path dir = fs::path(model_dir).lexically_normal();
  const fs::path file = dir / "config.pbtxt";
  std::error_code error;
  const bool without_file = auto_complete && !fs::exists(file, error);
  if (without_file && !IsModelDirectory(dir.string(), true)) {
    return absl::NotFoundError(absl::StrCat(
        "no config.pbtxt in ", dir.string(),
        ", and no version folder with a network.pbtxt or model.onnx to complete one from"));
  }
  inference::ModelConfig config;
  if (!without_file) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(file.string()));
    ASSIGN_OR_RETURN(config, ParseModelConfig(text));
  }
  if (auto_complete) RETURN_IF_ERROR(AutoCompleteModelConfig(dir.string(), without_file, config));
  const std::string directory_name =
      dir.has_filename() ? dir.filename().string() : dir.parent_path().filename().string();
  RETURN_IF_ERROR(NormalizeModelConfig(directory_name, config));
  return config;
}

absl::StatusOr<std::vector<int64_t>> ListVersions(const std::string& model_dir) {
  std::vector<int64_t> versions;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(model_dir, error)) {
    auto version = ParseVersion(entry.path().filename().string());
    if (entry.is_directory() && version.ok()) versions.push_back(*version);
  }
  if (error) {
    return absl::NotFoundError(absl::StrCat("cannot list ", model_dir, ": ", error.message()));
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

absl::StatusOr<std::vector<int64_t>> VersionsToServe(const inference::ModelConfig& config,
                                                     const std::vector<int64_t>& available) {
  const inference::ModelVersionPolicy& policy = config.version_policy();
  std::vector<int64_t> chosen;
  if (policy.has_specific()) {
    for (int64_t version : policy.specific().versions()) {
      if (!std::binary_search(available.begin(), available.end(), version)) {
        return absl::NotFoundError(absl::StrCat("model '", config.name(), "': version ", version,
                                                " named by version_policy has no folder"));
      }
      chosen.push_back(version);
    }
  } else if (policy.has_all()) {
    chosen = available;
  } else {
    const size_t keep = std::min<size_t>(available.size(), policy.latest().num_versions());
    chosen.assign(available.end() - keep, available.end());
  }
  if (chosen.empty()) {
    return absl::NotFoundError(absl::StrCat("model '", config.name(),
                                            "' has no numbered version folder to serve"));
  }
  return chosen;
}

absl::StatusOr<Graph> LoadNetworkGraph(const std::string& version_dir,
                                       bool* generated_weights) {
  const fs::path dir(version_dir);
  ASSIGN_OR_RETURN(std::string text, ReadFile((dir / "network.pbtxt").string()));
  ASSIGN_OR_RETURN(NetworkDef definition, ParseNetworkDef(text));
  ASSIGN_OR_RETURN(Graph graph, GraphFromNetworkDef(definition));
  const fs::path weights_path = dir / "weights.safetensors";
  const bool has_weights = fs::exists(weights_path);
  if (has_weights) {
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(weights_path.string()));
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

absl::StatusOr<LoadedModel> LoadModelVersion(const std::string& model_dir,
                                             const inference::ModelConfig& config,
                                             int64_t version, const LoadOptions& options) {
  const fs::path dir(model_dir);
  LoadedModel model;
  model.directory = model_dir;
  model.config = config;
  model.version = version;
  const std::string version_dir = (dir / std::to_string(version)).string();
  Graph graph;
  if (config.platform() == kPlatformOnnx) {
    ASSIGN_OR_RETURN(graph, LoadOnnxFile((fs::path(version_dir) / "model.onnx").string()));
    graph.name = config.name();  // an exporter's graph name ("torch_jit") says nothing
    SimplifyGraph(graph);
  } else {
    ASSIGN_OR_RETURN(graph, LoadNetworkGraph(version_dir, &model.generated_weights));
  }
  if (graph.name.empty()) graph.name = config.name();
  RETURN_IF_ERROR(ValidateConfigAgainstGraph(config, graph));
  const inference::ModelOutput& output = config.output(0);
  if (!output.label_filename().empty()) {
    ASSIGN_OR_RETURN(model.labels, ReadLabels(dir / output.label_filename()));
    const TensorShape& out = graph.output().output;
    if (static_cast<int64_t>(model.labels.size()) != int64_t{out.c} * out.h * out.w) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", config.name(), "': ", output.label_filename(), " has ",
          model.labels.size(), " labels for ", int64_t{out.c} * out.h * out.w, " outputs"));
    }
  }
  PlanOptions plan_options;
  if (options.policy_override.has_value()) {
    plan_options.policy = *options.policy_override;
  } else {
    ASSIGN_OR_RETURN(plan_options.policy, PolicyFromConfig(config.algorithm_policy()));
  }
  plan_options.autotune_batch =
      options.autotune_batch.value_or(std::clamp(config.max_batch_size(), 1, 8));
  plan_options.thread_pool = options.thread_pool;
  if (options.cpu_weights_override.has_value()) {
    plan_options.policy.cpu_weights = *options.cpu_weights_override;
  }
  plan_options.autotune_cpu = options.autotune_cpu;
  plan_options.gpu_runs_plan = options.gpu_runs_plan;
  ASSIGN_OR_RETURN(std::unique_ptr<ExecutionPlan> plan, Plan(std::move(graph), plan_options));
  model.plan = std::move(plan);
  return model;
}

absl::StatusOr<LoadedModel> LoadModel(const std::string& model_dir, const LoadOptions& options) {
  ASSIGN_OR_RETURN(inference::ModelConfig config, ReadModelConfig(model_dir));
  int64_t version = 0;
  if (options.version.has_value()) {
    version = *options.version;
  } else {
    ASSIGN_OR_RETURN(std::vector<int64_t> versions, ListVersions(model_dir));
    if (versions.empty()) {
      return absl::NotFoundError(absl::StrCat("model directory ", model_dir,
                                              " has no numbered version folder"));
    }
    version = versions.back();
  }
  return LoadModelVersion(model_dir, config, version, options);
}

}  // namespace convd
