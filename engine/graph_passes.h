// Load-time graph simplifications, run after weights are attached and
// before planning:
//   FoldBatchNorms  conv -> batch_norm becomes one conv with scaled weights
//                   and shifted bias (only when the conv feeds only the BN).
//   RemoveDropouts  dropout is the identity at inference.
//   FuseEpilogues   conv/fc -> add (residual) and conv/fc/add -> activation
//                   move into the producer's epilogue: act(y + b + residual).
// Each merged layer's name is recorded in the survivor's `fused` list, so
// the per-layer stats still show where every definition layer went.
#ifndef CONVD_ENGINE_GRAPH_PASSES_H_
#define CONVD_ENGINE_GRAPH_PASSES_H_

#include <vector>

#include "engine/graph.h"

namespace convd {

// A batch norm as y = x * scale[c] + shift[c], in float64: the one place its
// formula lives. FoldBatchNorms folds it into a convolution; the planner
// prepares it for batch norms that stay unfolded.
struct ScaleShift {
  std::vector<double> scale, shift;
};
ScaleShift BatchNormAsScaleShift(const Layer& batch_norm);

void FoldBatchNorms(Graph& graph);
void RemoveDropouts(Graph& graph);
void FuseEpilogues(Graph& graph);

// All of the above, in order.
void SimplifyGraph(Graph& graph);

}  // namespace convd

#endif  // CONVD_ENGINE_GRAPH_PASSES_H_
