#include "engine/testing/reference_forward.h"

#include <cstring>

#include "kernels/reference/reference_ops.h"

namespace convd::testing {

std::vector<double> ReferenceForward(const Graph& graph, const float* input, int batch) {
  std::vector<std::vector<float>> outputs(graph.layers.size());
  outputs[0].assign(input, input + graph.input().output.per_sample() * batch);
  std::vector<double> last;
  for (size_t i = 1; i < graph.layers.size(); ++i) {
    const Layer& layer = graph.layers[i];
    const std::vector<float>& in = outputs[layer.inputs[0]];
    const TensorShape s = graph.layers[layer.inputs[0]].output.WithBatch(batch);
    std::vector<double> out;
    switch (layer.kind) {
      case LayerKind::kConvolution:
        out = reference::Convolution(ConvParamsFor(graph, layer, batch), in.data(),
                                     layer.weight.data(),
                                     layer.bias.empty() ? nullptr : layer.bias.data(), nullptr,
                                     {Activation::kNone});
        break;
      case LayerKind::kFullyConnected:
        out = reference::FullyConnected(FullyConnectedParamsFor(graph, layer, batch), in.data(),
                                        layer.weight.data(),
                                        layer.bias.empty() ? nullptr : layer.bias.data(),
                                        {Activation::kNone});
        break;
      case LayerKind::kPooling:
        out = reference::Pooling(PoolParamsFor(graph, layer, batch), in.data());
        break;
      case LayerKind::kLrn:
        out = reference::Lrn({batch, s.c, s.h, s.w, layer.lrn.size, layer.lrn.alpha,
                              layer.lrn.beta, layer.lrn.k},
                             in.data());
        break;
      case LayerKind::kActivation:
        out = reference::Activate(in.data(), in.size(), layer.activation);
        break;
      case LayerKind::kDropout:
      case LayerKind::kFlatten:
        out.assign(in.begin(), in.end());
        break;
      case LayerKind::kSoftmax:
        out = reference::Softmax(in.data(), batch, s.c, s.h * s.w, layer.log_softmax);
        break;
      case LayerKind::kAdd:
        out.assign(in.size(), 0.0);
        for (int input : layer.inputs) {
          for (size_t j = 0; j < out.size(); ++j) out[j] += outputs[input][j];
        }
        break;
      case LayerKind::kConcat: {
        const int64_t plane = int64_t{s.h} * s.w;
        for (int b = 0; b < batch; ++b) {
          for (int input : layer.inputs) {
            const int64_t size = graph.layers[input].output.c * plane;
            const float* src = outputs[input].data() + b * size;
            out.insert(out.end(), src, src + size);
          }
        }
        break;
      }
      case LayerKind::kBatchNorm:
        out = reference::BatchNorm(in.data(), batch, s.c, s.h * s.w, layer.weight.data(),
                                   layer.bias.data(), layer.running_mean.data(),
                                   layer.running_var.data(), layer.batch_norm_eps);
        break;
      case LayerKind::kInput:
        break;
    }
    outputs[i].assign(out.begin(), out.end());
    last = std::move(out);
  }
  return last;
}

}  // namespace convd::testing
