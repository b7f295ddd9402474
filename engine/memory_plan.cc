#include "engine/memory_plan.h"

#include <algorithm>

namespace convd {
namespace {

constexpr int64_t kAlignFloats = 16;  // 64 bytes

int64_t AlignUp(int64_t floats) {
  return (floats + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
}

}  // namespace

bool IsViewLayer(const Layer& layer) { return layer.kind == LayerKind::kFlatten; }

MemoryPlan PlanMemory(const Graph& graph, int batch) {
  const int count = static_cast<int>(graph.layers.size());
  MemoryPlan plan;
  plan.batch = batch;
  // owner[i]: the layer whose buffer holds layer i's output.
  std::vector<int> owner(count);
  for (int i = 0; i < count; ++i) {
    owner[i] = IsViewLayer(graph.layers[i]) ? owner[graph.layers[i].inputs[0]] : i;
  }
  std::vector<int> last_use(count, -1);
  for (int i = 0; i < count; ++i) {
    last_use[owner[i]] = std::max(last_use[owner[i]], i);
    for (int input : Graph::AllInputs(graph.layers[i])) {
      last_use[owner[input]] = std::max(last_use[owner[input]], i);
    }
  }
  last_use[owner[count - 1]] = count;  // the output outlives the pass

  // Blocks are slots that grow; offsets are assigned once sizes are final.
  std::vector<int64_t> block_size;
  std::vector<bool> block_free;
  std::vector<int> block_of(count, -1);
  int64_t live = 0;
  for (int i = 1; i < count; ++i) {
    if (owner[i] == i) {
      const int64_t need = AlignUp(graph.layers[i].output.per_sample() * batch);
      plan.no_reuse_floats += need;
      int best = -1;
      for (int b = 0; b < static_cast<int>(block_size.size()); ++b) {
        if (!block_free[b]) continue;
        // Smallest block that fits; else the largest, which will grow.
        if (best < 0) {
          best = b;
          continue;
        }
        const bool fits = block_size[b] >= need, best_fits = block_size[best] >= need;
        if ((fits && (!best_fits || block_size[b] < block_size[best])) ||
            (!fits && !best_fits && block_size[b] > block_size[best])) {
          best = b;
        }
      }
      if (best < 0) {
        best = static_cast<int>(block_size.size());
        block_size.push_back(0);
        block_free.push_back(true);
      }
      block_size[best] = std::max(block_size[best], need);
      block_free[best] = false;
      block_of[i] = best;
      live += need;
      plan.live_peak_floats = std::max(plan.live_peak_floats, live);
    }
    // Release buffers whose last reader was this layer.
    for (int j = 1; j <= i; ++j) {
      if (owner[j] == j && last_use[j] == i && block_of[j] >= 0 && !block_free[block_of[j]]) {
        block_free[block_of[j]] = true;
        live -= AlignUp(graph.layers[j].output.per_sample() * batch);
      }
    }
  }
  std::vector<int64_t> block_offset(block_size.size());
  for (size_t b = 0; b < block_size.size(); ++b) {
    block_offset[b] = plan.arena_floats;
    plan.arena_floats += block_size[b];
  }
  plan.offsets.assign(count, MemoryPlan::kExternal);
  for (int i = 1; i < count; ++i) {
    const int o = owner[i];
    if (o != 0) plan.offsets[i] = block_offset[block_of[o]];
  }
  return plan;
}

}  // namespace convd
