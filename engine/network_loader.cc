#include "engine/network_loader.h"

#include <limits>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace convd {
namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();

class CollectingErrorPrinter : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    errors_.push_back(absl::StrCat(line + 1, ":", column + 1, ": ", message));
  }
  std::string errors() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::vector<std::string> errors_;
};

absl::Status LayerError(const LayerDef& layer, absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("layer '", layer.name(), "': ", message));
}

// Expands a 1- or 2-value list (height, width); `fallback` when empty.
absl::Status Pair(const LayerDef& layer, const char* what,
                  const google::protobuf::RepeatedField<int32_t>& values,
                  int fallback, int& h, int& w) {
  if (values.empty()) {
    h = w = fallback;
  } else if (values.size() == 1) {
    h = w = values[0];
  } else if (values.size() == 2) {
    h = values[0], w = values[1];
  } else {
    return LayerError(layer, absl::StrCat(what, " takes 1 or 2 values; got ",
                                          values.size()));
  }
  return absl::OkStatus();
}

// Expands pad: 1 value, 2 (height, width) or 4 (top, left, bottom, right).
absl::Status Pads(const LayerDef& layer,
                  const google::protobuf::RepeatedField<int32_t>& values,
                  int& top, int& left, int& bottom, int& right) {
  switch (values.size()) {
    case 0: top = left = bottom = right = 0; break;
    case 1: top = left = bottom = right = values[0]; break;
    case 2: top = bottom = values[0], left = right = values[1]; break;
    case 4: top = values[0], left = values[1], bottom = values[2], right = values[3]; break;
    default:
      return LayerError(layer, absl::StrCat("pad takes 1, 2 or 4 values; got ",
                                            values.size()));
  }
  return absl::OkStatus();
}

absl::Status FillConvolution(const LayerDef& def, Layer& layer) {
  const ConvolutionDef& c = def.convolution();
  layer.kind = LayerKind::kConvolution;
  ConvParams& g = layer.conv.geometry;
  g.k = c.num_output();
  if (c.kernel().empty()) return LayerError(def, "convolution needs a kernel size");
  RETURN_IF_ERROR(Pair(def, "kernel", c.kernel(), 0, g.r, g.s));
  RETURN_IF_ERROR(Pair(def, "stride", c.stride(), 1, g.stride_h, g.stride_w));
  RETURN_IF_ERROR(Pair(def, "dilation", c.dilation(), 1, g.dilation_h, g.dilation_w));
  RETURN_IF_ERROR(Pads(def, c.pad(), g.pad_top, g.pad_left, g.pad_bottom, g.pad_right));
  g.groups = c.groups();
  layer.conv.bias = c.bias();
  return absl::OkStatus();
}

absl::Status FillPooling(const LayerDef& def, Layer& layer) {
  const PoolingDef& p = def.pooling();
  layer.kind = LayerKind::kPooling;
  PoolParams& g = layer.pool.geometry;
  g.method = p.method() == PoolingDef::MAX ? PoolMethod::kMax : PoolMethod::kAverage;
  g.ceil_mode = p.ceil_mode();
  g.count_include_pad = p.count_include_pad();
  layer.pool.global = p.global();
  if (layer.pool.global) {
    if (!p.kernel().empty() || !p.stride().empty() || !p.pad().empty()) {
      return LayerError(def, "global pooling takes no kernel, stride or pad");
    }
    return absl::OkStatus();
  }
  if (p.kernel().empty()) return LayerError(def, "pooling needs a kernel size (or global)");
  RETURN_IF_ERROR(Pair(def, "kernel", p.kernel(), 0, g.kernel_h, g.kernel_w));
  // Like PyTorch, the stride defaults to the kernel size.
  RETURN_IF_ERROR(Pair(def, "stride", p.stride(), 0, g.stride_h, g.stride_w));
  if (p.stride().empty()) g.stride_h = g.kernel_h, g.stride_w = g.kernel_w;
  RETURN_IF_ERROR(Pads(def, p.pad(), g.pad_top, g.pad_left, g.pad_bottom, g.pad_right));
  return absl::OkStatus();
}

Activation ActivationFromDef(ActivationDef::Type type) {
  switch (type) {
    case ActivationDef::RELU: return Activation::kRelu;
    case ActivationDef::SIGMOID: return Activation::kSigmoid;
    case ActivationDef::TANH: return Activation::kTanh;
    case ActivationDef::LEAKY_RELU: return Activation::kLeakyRelu;
    case ActivationDef::CLIP: return Activation::kClip;
  }
  return Activation::kNone;
}

absl::Status FillLayer(const LayerDef& def, Layer& layer) {
  switch (def.kind_case()) {
    case LayerDef::kConvolution:
      return FillConvolution(def, layer);
    case LayerDef::kPooling:
      return FillPooling(def, layer);
    case LayerDef::kLrn:
      layer.kind = LayerKind::kLrn;
      layer.lrn = {def.lrn().size(), def.lrn().alpha(), def.lrn().beta(), def.lrn().k()};
      return absl::OkStatus();
    case LayerDef::kFullyConnected:
      layer.kind = LayerKind::kFullyConnected;
      layer.fc = {def.fully_connected().num_output(), def.fully_connected().bias()};
      return absl::OkStatus();
    case LayerDef::kActivation:
      layer.kind = LayerKind::kActivation;
    {
      const ActivationDef& activation = def.activation();
      layer.activation = {ActivationFromDef(activation.type()), activation.negative_slope(),
                          activation.has_min() ? activation.min() : -kInfinity,
                          activation.has_max() ? activation.max() : kInfinity};
      return absl::OkStatus();
    }
    case LayerDef::kDropout:
      layer.kind = LayerKind::kDropout;
      return absl::OkStatus();
    case LayerDef::kFlatten:
      layer.kind = LayerKind::kFlatten;
      return absl::OkStatus();
    case LayerDef::kSoftmax:
      layer.kind = LayerKind::kSoftmax;
      layer.log_softmax = def.softmax().log();
      return absl::OkStatus();
    case LayerDef::kAdd:
      layer.kind = LayerKind::kAdd;
      return absl::OkStatus();
    case LayerDef::kConcat:
      layer.kind = LayerKind::kConcat;
      return absl::OkStatus();
    case LayerDef::kBatchNorm:
      layer.kind = LayerKind::kBatchNorm;
      layer.batch_norm_eps = def.batch_norm().eps();
      if (!(layer.batch_norm_eps > 0.0f)) {
        return LayerError(def, absl::StrCat("eps must be positive; got ",
                                            layer.batch_norm_eps));
      }
      return absl::OkStatus();
    case LayerDef::KIND_NOT_SET:
      break;
  }
  return LayerError(def, "no layer kind set (convolution, pooling, ...)");
}

}  // namespace

absl::StatusOr<NetworkDef> ParseNetworkDef(std::string_view text) {
  NetworkDef definition;
  google::protobuf::TextFormat::Parser parser;
  CollectingErrorPrinter errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &definition)) {
    return absl::InvalidArgumentError(
        absl::StrCat("network definition does not parse: ", errors.errors()));
  }
  return definition;
}

absl::StatusOr<Graph> GraphFromNetworkDef(const NetworkDef& definition) {
  Graph graph;
  graph.name = definition.name();
  if (!definition.has_input()) {
    return absl::InvalidArgumentError("network definition has no input");
  }
  Layer input;
  input.name = definition.input().name();
  input.kind = LayerKind::kInput;
  input.output = {1, definition.input().channels(), definition.input().height(),
                  definition.input().width()};
  graph.layers.push_back(std::move(input));
  std::set<std::string> names = {graph.layers[0].name};
  for (const LayerDef& def : definition.layer()) {
    if (def.name().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layer ", graph.layers.size(), " has no name"));
    }
    if (!names.insert(def.name()).second) {
      return LayerError(def, "duplicate layer name");
    }
    Layer layer;
    layer.name = def.name();
    RETURN_IF_ERROR(FillLayer(def, layer));
    if (def.input().empty()) {
      layer.inputs.push_back(static_cast<int>(graph.layers.size()) - 1);
    }
    for (const std::string& input_name : def.input()) {
      const int index = graph.Find(input_name);
      if (index < 0) {
        return LayerError(def, absl::StrCat("input '", input_name,
                                            "' is not an earlier layer"));
      }
      layer.inputs.push_back(index);
    }
    graph.layers.push_back(std::move(layer));
  }
  graph.output_name = graph.layers.back().name;
  RETURN_IF_ERROR(InferShapes(graph));
  return graph;
}

}  // namespace convd
