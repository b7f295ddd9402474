#include "engine/model_autocomplete.h"

#include <filesystem>

#include "engine/file_util.h"
#include "engine/model_config.h"
#include "engine/model_loader.h"
#include "engine/network_loader.h"
#include "engine/onnx_loader.h"
#include "engine/status_macros.h"

namespace convd {
namespace {

namespace fs = std::filesystem;

constexpr char kNetworkFile[] = "network.pbtxt";
constexpr char kOnnxFile[] = "model.onnx";

bool IsFile(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

// The network of one version folder, with shapes inferred; a network
// definition's weights are not needed for that and are not read.
absl::StatusOr<Graph> ReadNetworkShape(const fs::path& version_dir, const std::string& platform) {
  if (platform == kPlatformOnnx) return LoadOnnxFile((version_dir / kOnnxFile).string());
  ASSIGN_OR_RETURN(std::string text, ReadFile((version_dir / kNetworkFile).string()));
  ASSIGN_OR_RETURN(NetworkDef definition, ParseNetworkDef(text));
  return GraphFromNetworkDef(definition);
}

template <typename Tensor>
bool Incomplete(const google::protobuf::RepeatedPtrField<Tensor>& tensors) {
  return tensors.empty() || tensors[0].name().empty() || tensors[0].dims().empty();
}

// Fills the first of `tensors` (added if there is none) where it lacks a
// name or dims.
template <typename Tensor>
void Complete(const std::string& name, const std::vector<int64_t>& dims,
              google::protobuf::RepeatedPtrField<Tensor>& tensors) {
  Tensor& tensor = tensors.empty() ? *tensors.Add() : tensors[0];
  if (tensor.name().empty()) tensor.set_name(name);
  if (tensor.dims().empty()) {
    for (int64_t d : dims) tensor.add_dims(d);
  }
}

}  // namespace

bool IsModelDirectory(const std::string& dir, bool auto_complete) {
  const fs::path path(dir);
  if (IsFile(path / "config.pbtxt")) return true;
  if (!auto_complete) return false;
  absl::StatusOr<std::vector<int64_t>> versions = ListVersions(dir);
  if (!versions.ok()) return false;
  for (int64_t version : *versions) {
    const fs::path folder = path / std::to_string(version);
    if (IsFile(folder / kNetworkFile) || IsFile(folder / kOnnxFile)) return true;
  }
  return false;
}

absl::Status AutoCompleteModelConfig(const std::string& model_dir, bool without_file,
                                     inference::ModelConfig& config) {
  if (without_file) {
    config.set_max_batch_size(kAutoCompleteMaxBatchSize);
    config.mutable_dynamic_batching();
  }
  absl::StatusOr<std::vector<int64_t>> versions = ListVersions(model_dir);
  if (!versions.ok() || versions->empty()) return absl::OkStatus();
  const fs::path newest = fs::path(model_dir) / std::to_string(versions->back());
  if (config.platform().empty() && IsFile(newest / kOnnxFile) && !IsFile(newest / kNetworkFile)) {
    config.set_platform(kPlatformOnnx);
  }
  if (!Incomplete(config.input()) && !Incomplete(config.output())) return absl::OkStatus();

  ASSIGN_OR_RETURN(Graph graph, ReadNetworkShape(newest, config.platform()));
  const TensorShape& in = graph.input().output;
  Complete(graph.input().name.empty() ? "input" : graph.input().name, {in.c, in.h, in.w},
           *config.mutable_input());
  const TensorShape& out = graph.output().output;
  Complete(graph.output_name.empty() ? "output" : graph.output_name,
           out.h == 1 && out.w == 1 ? std::vector<int64_t>{out.c}
                                    : std::vector<int64_t>{out.c, out.h, out.w},
           *config.mutable_output());
  return absl::OkStatus();
}

}  // namespace convd
