#include "engine/graph_passes.h"

#include <cmath>

namespace convd {
namespace {

// Removes layers[index]; its consumers read `replacement` instead.
void RemoveLayer(Graph& graph, int index, int replacement) {
  auto remap = [&](int& ref) {
    if (ref == index) ref = replacement;
    if (ref > index) --ref;
  };
  for (Layer& layer : graph.layers) {
    for (int& input : layer.inputs) remap(input);
    if (layer.residual_input >= 0) remap(layer.residual_input);
  }
  graph.layers.erase(graph.layers.begin() + index);
}

bool SoleConsumer(const Graph& graph, int producer, int consumer) {
  const auto consumers = graph.Consumers();
  return consumers[producer].size() == 1 && consumers[producer][0] == consumer;
}

bool HasEpilogue(LayerKind kind) {
  return kind == LayerKind::kConvolution || kind == LayerKind::kFullyConnected;
}

void MergeInto(Layer& survivor, const Layer& merged) {
  survivor.fused.push_back(merged.name);
  survivor.fused.insert(survivor.fused.end(), merged.fused.begin(), merged.fused.end());
}

}  // namespace

ScaleShift BatchNormAsScaleShift(const Layer& bn) {
  const int channels = static_cast<int>(bn.weight.size());
  ScaleShift result{std::vector<double>(channels), std::vector<double>(channels)};
  for (int c = 0; c < channels; ++c) {
    result.scale[c] = bn.weight[c] / std::sqrt(double{bn.running_var[c]} + bn.batch_norm_eps);
    result.shift[c] = bn.bias[c] - bn.running_mean[c] * result.scale[c];
  }
  return result;
}

void FoldBatchNorms(Graph& graph) {
  for (int i = 1; i < static_cast<int>(graph.layers.size()); ++i) {
    Layer& bn = graph.layers[i];
    if (bn.kind != LayerKind::kBatchNorm) continue;
    const int producer = bn.inputs[0];
    Layer& conv = graph.layers[producer];
    if (conv.kind != LayerKind::kConvolution || conv.fused_activation.type != Activation::kNone ||
        conv.residual_input >= 0 || !SoleConsumer(graph, producer, i)) {
      continue;
    }
    const int k = conv.conv.geometry.k;
    const int64_t per_filter = static_cast<int64_t>(conv.weight.size()) / k;
    if (conv.bias.empty()) conv.bias.assign(k, 0.0f);
    const ScaleShift normalise = BatchNormAsScaleShift(bn);
    for (int c = 0; c < k; ++c) {
      for (int64_t j = 0; j < per_filter; ++j) {
        float& w = conv.weight[c * per_filter + j];
        w = static_cast<float>(w * normalise.scale[c]);
      }
      conv.bias[c] = static_cast<float>(conv.bias[c] * normalise.scale[c] + normalise.shift[c]);
    }
    conv.conv.bias = true;
    // PyTorch counts scale and shift as parameters, running stats as buffers.
    conv.folded_params += 2 * int64_t{k};
    MergeInto(conv, bn);
    RemoveLayer(graph, i, producer);
    --i;
  }
}

void RemoveDropouts(Graph& graph) {
  for (int i = 1; i < static_cast<int>(graph.layers.size()); ++i) {
    if (graph.layers[i].kind != LayerKind::kDropout) continue;
    // The last layer must stay (it is the output); a dropout there is kept
    // and runs as a copy.
    if (i == static_cast<int>(graph.layers.size()) - 1) continue;
    RemoveLayer(graph, i, graph.layers[i].inputs[0]);
    --i;
  }
}

void FuseEpilogues(Graph& graph) {
  // conv/fc + add -> conv/fc with a residual input.
  for (int i = 1; i < static_cast<int>(graph.layers.size()); ++i) {
    const Layer& add = graph.layers[i];
    if (add.kind != LayerKind::kAdd || add.inputs.size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      const int producer = add.inputs[side], other = add.inputs[1 - side];
      Layer& conv = graph.layers[producer];
      // The residual must be computed before the producer runs.
      if (!HasEpilogue(conv.kind) || conv.residual_input >= 0 ||
          conv.fused_activation.type != Activation::kNone || other >= producer ||
          !SoleConsumer(graph, producer, i)) {
        continue;
      }
      conv.residual_input = other;
      MergeInto(conv, add);
      RemoveLayer(graph, i, producer);
      --i;
      break;
    }
  }
  // conv/fc/add + activation -> fused activation.
  for (int i = 1; i < static_cast<int>(graph.layers.size()); ++i) {
    const Layer& activation = graph.layers[i];
    if (activation.kind != LayerKind::kActivation) continue;
    const int producer = activation.inputs[0];
    Layer& target = graph.layers[producer];
    if (!(HasEpilogue(target.kind) || target.kind == LayerKind::kAdd) ||
        target.fused_activation.type != Activation::kNone || !SoleConsumer(graph, producer, i)) {
      continue;
    }
    target.fused_activation = activation.activation;
    MergeInto(target, activation);
    RemoveLayer(graph, i, producer);
    --i;
  }
}

void SimplifyGraph(Graph& graph) {
  FoldBatchNorms(graph);
  RemoveDropouts(graph);
  FuseEpilogues(graph);
}

}  // namespace convd
