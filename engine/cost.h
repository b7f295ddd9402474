// What a layer costs, independent of the algorithm that runs it.
//   macs    multiply-accumulates of convolutions and fully connected layers
//           (the figure papers publish; 0 for every other layer)
//   flops   2 x macs, plus one per output value for each fused or
//           element-wise step (bias, residual, activation, add, batch norm),
//           the window size per output for pooling, and per element about
//           2 x size + 4 for LRN and 3 for softmax
//   params  learned parameters as defined (PyTorch's count: folded batch
//           norms contribute scale and shift)
#ifndef CONVD_ENGINE_COST_H_
#define CONVD_ENGINE_COST_H_

#include <cstdint>

#include "engine/graph.h"

namespace convd {

struct LayerCost {
  int64_t macs = 0;
  int64_t flops = 0;
  int64_t params = 0;
  int64_t param_bytes = 0;       // in float32 (stats.cc: less for FP16 weights)
  int64_t activation_bytes = 0;  // this layer's output at the batch size
};

LayerCost ComputeLayerCost(const Graph& graph, const Layer& layer, int batch);

}  // namespace convd

#endif  // CONVD_ENGINE_COST_H_
