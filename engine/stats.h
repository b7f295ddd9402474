// Per-layer and per-model statistics of a plan at one batch size: what each
// layer is, what it costs (engine/cost.h), which algorithm runs it and why,
// its workspace, and (after a run) its measured time. Memory totals come
// from the memory plan: the activation arena with buffer reuse, what no
// reuse would take, the largest workspace, and the resulting peak.
#ifndef CONVD_ENGINE_STATS_H_
#define CONVD_ENGINE_STATS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cost.h"
#include "engine/memory_plan.h"
#include "engine/planner.h"

namespace convd {

struct LayerStats {
  std::string name;
  std::string kind;
  std::vector<std::string> fused;  // definition layers merged into this one
  TensorShape output;              // at the batch size
  std::string algorithm;           // convolutions; empty otherwise
  std::string why;
  LayerCost cost;
  int64_t workspace_bytes = 0;
  double time_ms = 0.0;            // measured; 0 until a run fills it
};

struct ModelStats {
  std::string model;
  int batch = 0;
  std::vector<LayerStats> layers;
  int64_t total_macs = 0;
  int64_t total_flops = 0;
  int64_t total_params = 0;
  int64_t param_bytes = 0;
  int64_t input_bytes = 0;
  int64_t activation_bytes_no_reuse = 0;  // every output in its own buffer
  int64_t activation_arena_bytes = 0;     // the planned arena (with reuse)
  int64_t workspace_bytes = 0;            // largest per-layer workspace
  // Peak host memory of a forward pass: input + arena + workspace + params.
  int64_t peak_bytes = 0;
  double total_time_ms = 0.0;

  // A profiler-style table with a totals line.
  std::string ToTable() const;
  // The same as JSON (keys include total_params and total_macs).
  std::string ToJson() const;
};

// Reads what ToJson wrote (a response's layer_stats parameter, for clients
// that print the same table); INVALID_ARGUMENT when it is not that JSON.
absl::StatusOr<ModelStats> ModelStatsFromJson(std::string_view json);

// Everything except times, at `batch`.
ModelStats ComputeModelStats(const ExecutionPlan& plan, int batch);
// The same, reusing a memory plan already made for plan.graph (its batch).
ModelStats ComputeModelStats(const ExecutionPlan& plan, const MemoryPlan& memory);

}  // namespace convd

#endif  // CONVD_ENGINE_STATS_H_
