#include "engine/cost.h"

namespace convd {

LayerCost ComputeLayerCost(const Graph& graph, const Layer& layer, int batch) {
  LayerCost cost;
  const int64_t outputs = layer.output.per_sample() * batch;
  cost.activation_bytes = outputs * static_cast<int64_t>(sizeof(float));
  int64_t stored = 0;
  for (const ParameterSpec& spec : ParameterSpecs(graph, layer)) {
    int64_t count = 1;
    for (int64_t dim : spec.shape) count *= dim;
    stored += count;
  }
  cost.params = layer.kind == LayerKind::kBatchNorm ? 2 * int64_t{layer.output.c} : stored;
  cost.params += layer.folded_params;
  cost.param_bytes = stored * static_cast<int64_t>(sizeof(float));
  int64_t epilogue_steps = 0;
  switch (layer.kind) {
    case LayerKind::kConvolution:
      cost.macs = ConvParamsFor(graph, layer, batch).macs();
      epilogue_steps = layer.conv.bias ? 1 : 0;
      break;
    case LayerKind::kFullyConnected:
      cost.macs = FullyConnectedParamsFor(graph, layer, batch).macs();
      epilogue_steps = layer.fc.bias ? 1 : 0;
      break;
    case LayerKind::kPooling: {
      const PoolParams p = PoolParamsFor(graph, layer, batch);
      cost.flops = outputs * p.kernel_h * p.kernel_w;
      break;
    }
    case LayerKind::kLrn:
      cost.flops = outputs * (2 * int64_t{layer.lrn.size} + 4);
      break;
    case LayerKind::kSoftmax:
      cost.flops = outputs * 3;
      break;
    case LayerKind::kAdd:
      epilogue_steps = static_cast<int64_t>(layer.inputs.size()) - 1;
      break;
    case LayerKind::kBatchNorm:
      epilogue_steps = 2;
      break;
    case LayerKind::kActivation:
      epilogue_steps = 1;
      break;
    default:
      break;
  }
  if (layer.residual_input >= 0) ++epilogue_steps;
  if (layer.fused_activation.type != Activation::kNone) ++epilogue_steps;
  cost.flops += 2 * cost.macs + epilogue_steps * outputs;
  return cost;
}

}  // namespace convd
