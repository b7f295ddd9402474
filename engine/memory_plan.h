// Activation memory for one forward pass: every layer output gets an offset
// in one arena, and buffers are reused once their last reader has run
// (greedy best fit over released blocks). Flatten outputs alias their input
// (a view); the graph input is supplied by the caller and is not in the
// arena.
#ifndef CONVD_ENGINE_MEMORY_PLAN_H_
#define CONVD_ENGINE_MEMORY_PLAN_H_

#include <cstdint>
#include <vector>

#include "engine/graph.h"

namespace convd {

struct MemoryPlan {
  static constexpr int64_t kExternal = -1;  // the caller's input tensor

  int batch = 0;
  // Per layer: offset in floats into the arena, or kExternal.
  std::vector<int64_t> offsets;
  int64_t arena_floats = 0;      // what the plan allocates
  int64_t live_peak_floats = 0;  // lower bound: largest set of live outputs
  int64_t no_reuse_floats = 0;   // what allocating every output would take
};

MemoryPlan PlanMemory(const Graph& graph, int batch);

// True for layers whose output is a view of their input.
bool IsViewLayer(const Layer& layer);

}  // namespace convd

#endif  // CONVD_ENGINE_MEMORY_PLAN_H_
