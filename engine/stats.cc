#include "engine/stats.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace convd {

ModelStats ComputeModelStats(const ExecutionPlan& plan, int batch) {
  return ComputeModelStats(plan, PlanMemory(plan.graph, batch));
}

ModelStats ComputeModelStats(const ExecutionPlan& plan, const MemoryPlan& memory) {
  const Graph& graph = plan.graph;
  const int batch = memory.batch;
  ModelStats stats;
  stats.model = graph.name;
  stats.batch = batch;
  for (size_t i = 1; i < graph.layers.size(); ++i) {
    const Layer& layer = graph.layers[i];
    LayerStats s;
    s.name = layer.name;
    s.kind = LayerKindName(layer.kind);
    s.fused = layer.fused;
    s.output = layer.output.WithBatch(batch);
    s.cost = ComputeLayerCost(graph, layer, batch);
    if (const ConvAlgorithm* algorithm = plan.layers[i].algorithm) {
      s.algorithm = std::string(algorithm->name());
      s.why = plan.layers[i].why;
    } else if (plan.layers[i].weight_halves) {
      s.algorithm = "fully_connected fp16";
      s.why = plan.layers[i].why;
      // Two bytes a weight, one per multiply-add of an image (the bias
      // stays in floats).
      s.cost.param_bytes -= FullyConnectedParamsFor(graph, layer, 1).macs() * 2;
    }
    s.workspace_bytes = plan.LayerWorkspaceBytes(i, batch, plan.threads);
    stats.total_macs += s.cost.macs;
    stats.total_flops += s.cost.flops;
    stats.total_params += s.cost.params;
    stats.param_bytes += s.cost.param_bytes;
    stats.workspace_bytes = std::max(stats.workspace_bytes, s.workspace_bytes);
    stats.layers.push_back(std::move(s));
  }
  stats.input_bytes = graph.input().output.per_sample() * batch * int64_t{sizeof(float)};
  stats.activation_arena_bytes = memory.arena_floats * int64_t{sizeof(float)};
  stats.activation_bytes_no_reuse = memory.no_reuse_floats * int64_t{sizeof(float)};
  stats.peak_bytes = stats.input_bytes + stats.activation_arena_bytes +
                     stats.workspace_bytes + stats.param_bytes;
  return stats;
}

namespace {

std::string Mebibytes(int64_t bytes) {
  return absl::StrFormat("%.2f", static_cast<double>(bytes) / (1 << 20));
}

std::string ShapeText(const TensorShape& s) {
  return absl::StrFormat("%dx%dx%dx%d", s.n, s.c, s.h, s.w);
}

}  // namespace

std::string ModelStats::ToTable() const {
  std::string out = absl::StrFormat(
      "model %s, batch %d\n%-22s %-16s %-20s %9s %10s %11s %9s %9s %9s\n", model, batch,
      "layer", "output", "algorithm", "MFLOPs", "MMACs", "params", "act MiB", "ws MiB",
      "time ms");
  for (const LayerStats& s : layers) {
    std::string name = s.name;
    if (!s.fused.empty()) absl::StrAppend(&name, "+", absl::StrJoin(s.fused, "+"));
    if (name.size() > 22) name = name.substr(0, 21) + "~";
    absl::StrAppendFormat(&out, "%-22s %-16s %-20s %9.2f %10.2f %11d %9s %9s %9.3f\n", name,
                          ShapeText(s.output), s.algorithm.empty() ? s.kind : s.algorithm,
                          s.cost.flops / 1e6, s.cost.macs / 1e6, s.cost.params,
                          Mebibytes(s.cost.activation_bytes), Mebibytes(s.workspace_bytes),
                          s.time_ms);
  }
  absl::StrAppendFormat(&out, "%-22s %-16s %-20s %9.2f %10.2f %11d %9s %9s %9.3f\n", "total",
                        "", "", total_flops / 1e6, total_macs / 1e6, total_params,
                        Mebibytes(activation_bytes_no_reuse), Mebibytes(workspace_bytes),
                        total_time_ms);
  absl::StrAppendFormat(
      &out,
      "memory: params %s MiB, input %s MiB, activation arena %s MiB (no reuse: %s MiB), "
      "workspace %s MiB, peak %s MiB\n",
      Mebibytes(param_bytes), Mebibytes(input_bytes), Mebibytes(activation_arena_bytes),
      Mebibytes(activation_bytes_no_reuse), Mebibytes(workspace_bytes), Mebibytes(peak_bytes));
  if (total_time_ms > 0) {
    absl::StrAppendFormat(&out, "throughput: %.1f images/s, %.2f GFLOP/s\n",
                          batch * 1000.0 / total_time_ms, total_flops / total_time_ms / 1e6);
  }
  return out;
}

std::string ModelStats::ToJson() const {
  nlohmann::json layers_json = nlohmann::json::array();
  for (const LayerStats& s : layers) {
    layers_json.push_back({{"name", s.name},
                           {"kind", s.kind},
                           {"fused", s.fused},
                           {"output_shape", {s.output.n, s.output.c, s.output.h, s.output.w}},
                           {"algorithm", s.algorithm},
                           {"why", s.why},
                           {"macs", s.cost.macs},
                           {"flops", s.cost.flops},
                           {"params", s.cost.params},
                           {"param_bytes", s.cost.param_bytes},
                           {"activation_bytes", s.cost.activation_bytes},
                           {"workspace_bytes", s.workspace_bytes},
                           {"time_ms", s.time_ms}});
  }
  nlohmann::json json = {{"model", model},
                         {"batch", batch},
                         {"layers", layers_json},
                         {"total_macs", total_macs},
                         {"total_flops", total_flops},
                         {"total_params", total_params},
                         {"param_bytes", param_bytes},
                         {"input_bytes", input_bytes},
                         {"activation_bytes_no_reuse", activation_bytes_no_reuse},
                         {"activation_arena_bytes", activation_arena_bytes},
                         {"workspace_bytes", workspace_bytes},
                         {"peak_bytes", peak_bytes},
                         {"total_time_ms", total_time_ms}};
  return json.dump(2);
}

absl::StatusOr<ModelStats> ModelStatsFromJson(std::string_view text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("layers") || !json["layers"].is_array()) {
    return absl::InvalidArgumentError("layer stats: not a JSON object with a 'layers' array");
  }
  // Missing or mistyped keys read as zero/empty rather than failing: the
  // table is for people, and a newer server may add or drop keys.
  auto number = [](const nlohmann::json& object, const char* key) -> double {
    auto it = object.find(key);
    return it != object.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  auto text_of = [](const nlohmann::json& object, const char* key) -> std::string {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  ModelStats stats;
  stats.model = text_of(json, "model");
  stats.batch = static_cast<int>(number(json, "batch"));
  for (const nlohmann::json& layer : json["layers"]) {
    if (!layer.is_object()) return absl::InvalidArgumentError("layer stats: a layer is not an object");
    LayerStats s;
    s.name = text_of(layer, "name");
    s.kind = text_of(layer, "kind");
    if (auto it = layer.find("fused"); it != layer.end() && it->is_array()) {
      for (const auto& f : *it) {
        if (f.is_string()) s.fused.push_back(f.get<std::string>());
      }
    }
    if (auto it = layer.find("output_shape"); it != layer.end() && it->is_array() &&
                                               it->size() == 4) {
      int dims[4];
      for (int d = 0; d < 4; ++d) dims[d] = (*it)[d].is_number() ? (*it)[d].get<int>() : 0;
      s.output = {dims[0], dims[1], dims[2], dims[3]};
    }
    s.algorithm = text_of(layer, "algorithm");
    s.why = text_of(layer, "why");
    s.cost.macs = static_cast<int64_t>(number(layer, "macs"));
    s.cost.flops = static_cast<int64_t>(number(layer, "flops"));
    s.cost.params = static_cast<int64_t>(number(layer, "params"));
    s.cost.param_bytes = static_cast<int64_t>(number(layer, "param_bytes"));
    s.cost.activation_bytes = static_cast<int64_t>(number(layer, "activation_bytes"));
    s.workspace_bytes = static_cast<int64_t>(number(layer, "workspace_bytes"));
    s.time_ms = number(layer, "time_ms");
    stats.layers.push_back(std::move(s));
  }
  stats.total_macs = static_cast<int64_t>(number(json, "total_macs"));
  stats.total_flops = static_cast<int64_t>(number(json, "total_flops"));
  stats.total_params = static_cast<int64_t>(number(json, "total_params"));
  stats.param_bytes = static_cast<int64_t>(number(json, "param_bytes"));
  stats.input_bytes = static_cast<int64_t>(number(json, "input_bytes"));
  stats.activation_bytes_no_reuse = static_cast<int64_t>(number(json, "activation_bytes_no_reuse"));
  stats.activation_arena_bytes = static_cast<int64_t>(number(json, "activation_arena_bytes"));
  stats.workspace_bytes = static_cast<int64_t>(number(json, "workspace_bytes"));
  stats.peak_bytes = static_cast<int64_t>(number(json, "peak_bytes"));
  stats.total_time_ms = number(json, "total_time_ms");
  return stats;
}

}  // namespace convd
