// The ONNX operators that carry weights or fold into their neighbours.
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/network_loader.h"
#include "engine/onnx_tensors.h"
#include "engine/onnx_translator.h"
#include "engine/status_macros.h"

namespace convd::onnx_import {

using onnx::NodeProto;

absl::StatusOr<Translator::Window> Translator::ReadWindow(const NodeProto& node,
                                                          std::vector<int64_t> kernel) {
  // 1-D windows over [N, C, L] run as 2-D ones over [N, C, L, 1] (the
  // input's missing trailing dimension is 1; see ReadInput).
  const size_t spatial = kernel.size();
  const int rank = RankOf(node.input(0));
  if (spatial != 1 && spatial != 2) {
    return Unsupported(node, absl::StrCat(spatial, "-D windows; convd runs 1-D and 2-D ones"));
  }
  if (rank != static_cast<int>(spatial) + 2) {
    return Fail(node, absl::StrCat("a ", spatial, "-D window needs an input of rank ",
                                   spatial + 2, "; got rank ", rank));
  }
  Window w;
  w.kernel = std::move(kernel);
  w.strides = IntsAttribute(node, "strides");
  w.dilations = IntsAttribute(node, "dilations");
  w.pads = IntsAttribute(node, "pads");
  if (w.strides.empty()) w.strides.assign(spatial, 1);
  if (w.dilations.empty()) w.dilations.assign(spatial, 1);
  if (w.pads.empty()) w.pads.assign(2 * spatial, 0);
  if (w.strides.size() != spatial || w.dilations.size() != spatial ||
      w.pads.size() != 2 * spatial) {
    return Fail(node, absl::StrCat("strides, dilations and pads must have ", spatial, ", ",
                                   spatial, " and ", 2 * spatial, " values"));
  }
  if (spatial == 1) {
    w.kernel.push_back(1);
    w.strides.push_back(1);
    w.dilations.push_back(1);
    w.pads = {w.pads[0], 0, w.pads[1], 0};
  }
  for (int64_t p : w.pads) w.own_pads |= p != 0;
  w.input = Unpadded(node.input(0), w.pads);
  w.folded_pad = w.input != node.input(0);
  const std::string auto_pad = StringAttribute(node, "auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    ASSIGN_OR_RETURN(const TensorShape in, ShapeOf(node, w.input));
    const int64_t size[2] = {in.h, in.w};
    for (int axis = 0; axis < 2; ++axis) {
      const int64_t out = (size[axis] + w.strides[axis] - 1) / w.strides[axis];
      const int64_t total = std::max<int64_t>(
          0, (out - 1) * w.strides[axis] + (w.kernel[axis] - 1) * w.dilations[axis] + 1 -
                 size[axis]);
      const int64_t small = total / 2, large = total - small;
      w.pads[axis] += auto_pad == "SAME_UPPER" ? small : large;
      w.pads[axis + 2] += auto_pad == "SAME_UPPER" ? large : small;
      w.own_pads |= total != 0;
    }
  } else if (auto_pad != "NOTSET" && auto_pad != "VALID") {
    return Fail(node, absl::StrCat("unknown auto_pad '", auto_pad, "'"));
  }
  return w;
}

absl::Status Translator::Conv(const NodeProto& node) {
  ASSIGN_OR_RETURN(const NamedTensor* weight, Constant(node, 1));
  if (weight->shape.size() < 3) {
    return Fail(node, absl::StrCat("weight has rank ", weight->shape.size()));
  }
  ASSIGN_OR_RETURN(const Window window,
                   ReadWindow(node, {weight->shape.begin() + 2, weight->shape.end()}));
  const std::vector<int64_t>& kernel = window.kernel;
  const std::vector<int64_t>& strides = window.strides;
  const std::vector<int64_t>& dilations = window.dilations;
  const std::vector<int64_t>& pads = window.pads;
  ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {window.input}));
  ConvolutionDef& conv = *layer->mutable_convolution();
  conv.set_num_output(static_cast<int>(weight->shape[0]));
  for (int64_t k : kernel) conv.add_kernel(static_cast<int>(k));
  for (int64_t s : strides) conv.add_stride(static_cast<int>(s));
  for (int64_t d : dilations) conv.add_dilation(static_cast<int>(d));
  for (int64_t p : pads) conv.add_pad(static_cast<int>(p));
  conv.set_groups(static_cast<int>(IntAttribute(node, "group", 1)));
  NamedTensor& stored = weights_[layer->name() + ".weight"] = *weight;
  stored.shape = {weight->shape[0], weight->shape[1], kernel[0], kernel[1]};
  const bool has_bias = node.input_size() > 2 && !node.input(2).empty();
  conv.set_bias(has_bias);
  if (has_bias) {
    ASSIGN_OR_RETURN(const NamedTensor* bias, Constant(node, 2));
    weights_[layer->name() + ".bias"] = *bias;
  }
  return absl::OkStatus();
}

absl::Status Translator::Pool(const NodeProto& node, bool max, bool global) {
  if (node.output_size() > 1 && !node.output(1).empty()) {
    return Unsupported(node, "the Indices output is not supported");
  }
  if (global) {
    ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
    layer->mutable_pooling()->set_method(max ? PoolingDef::MAX : PoolingDef::AVERAGE);
    layer->mutable_pooling()->set_global(true);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const Window window, ReadWindow(node, IntsAttribute(node, "kernel_shape")));
  for (int64_t d : window.dilations) {
    if (d != 1) return Unsupported(node, "dilated pooling");
  }
  bool count_include_pad = IntAttribute(node, "count_include_pad", 0) != 0;
  // An explicit Pad's zeros take part in the pooling, while convd's (and
  // ONNX's) window padding is skipped by max and, unless count_include_pad,
  // by the average's divisor. Fold only where that gives the same result.
  if (window.folded_pad && max && !NonNegative(window.input)) {
    return Unsupported(node, "a Pad before MaxPool whose input may be negative (the padding "
                             "zeros would win the max; convd folds Pad only after ReLU-like "
                             "layers)");
  }
  if (window.folded_pad && max) {
    for (int axis = 0; axis < 2; ++axis) {
      if (window.pads[axis] >= window.kernel[axis] || window.pads[axis + 2] >= window.kernel[axis]) {
        return Unsupported(node, "a Pad before MaxPool as wide as the window");
      }
    }
  }
  if (window.folded_pad && !max && !count_include_pad) {
    if (window.own_pads) {
      return Unsupported(node, "a Pad before an AveragePool with its own pads and "
                               "count_include_pad = 0 (the two paddings count differently)");
    }
    count_include_pad = true;  // the Pad's zeros are values to average
  }
  ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {window.input}));
  PoolingDef& pool = *layer->mutable_pooling();
  pool.set_method(max ? PoolingDef::MAX : PoolingDef::AVERAGE);
  for (int64_t k : window.kernel) pool.add_kernel(static_cast<int>(k));
  for (int64_t s : window.strides) pool.add_stride(static_cast<int>(s));
  for (int64_t p : window.pads) pool.add_pad(static_cast<int>(p));
  pool.set_ceil_mode(IntAttribute(node, "ceil_mode", 0) != 0);
  pool.set_count_include_pad(count_include_pad);
  return absl::OkStatus();
}

bool Translator::NonNegative(const std::string& value) const {
  auto it = layer_of_.find(value);
  if (it == layer_of_.end()) return false;
  for (const LayerDef& layer : def_.layer()) {
    if (layer.name() != it->second) continue;
    if (!layer.has_activation()) return false;
    const ActivationDef& activation = layer.activation();
    return activation.type() == ActivationDef::RELU ||
           activation.type() == ActivationDef::SIGMOID ||
           (activation.type() == ActivationDef::CLIP && activation.has_min() &&
            activation.min() >= 0.0f);
  }
  return false;
}

absl::Status Translator::Gemm(const NodeProto& node, bool matmul) {
  ASSIGN_OR_RETURN(const NamedTensor* b, Constant(node, 1));
  if (b->shape.size() != 2) return Unsupported(node, "the second input must be a 2-D constant");
  if (const int rank = RankOf(node.input(0)); rank != 2) {
    return Unsupported(node, absl::StrCat("the first input has rank ", rank,
                                          "; convd multiplies [N, features] (flatten first)"));
  }
  if (!matmul && IntAttribute(node, "transA", 0) != 0) return Unsupported(node, "transA = 1");
  const bool trans_b = !matmul && IntAttribute(node, "transB", 0) != 0;
  const float alpha = matmul ? 1.0f : FloatAttribute(node, "alpha", 1.0f);
  const float beta = matmul ? 1.0f : FloatAttribute(node, "beta", 1.0f);
  const int64_t out = trans_b ? b->shape[0] : b->shape[1];
  const int64_t in = trans_b ? b->shape[1] : b->shape[0];
  ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
  NamedTensor weight{"F32", {out, in}, std::vector<float>(out * in)};
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      weight.values[o * in + i] =
          alpha * (trans_b ? b->values[o * in + i] : b->values[i * out + o]);
    }
  }
  weights_[layer->name() + ".weight"] = std::move(weight);
  rank_of_[node.output(0)] = 2;
  FullyConnectedDef& fc = *layer->mutable_fully_connected();
  fc.set_num_output(static_cast<int>(out));
  const bool has_bias = !matmul && node.input_size() > 2 && !node.input(2).empty();
  fc.set_bias(has_bias);
  if (has_bias) {
    ASSIGN_OR_RETURN(const NamedTensor* c, Constant(node, 2));
    const int64_t count = Elements(c->shape);
    if (count != out && count != 1) {
      return Unsupported(node, absl::StrCat("bias C must have ", out, " values or 1; got ", count));
    }
    NamedTensor bias{"F32", {out}, std::vector<float>(out)};
    for (int64_t o = 0; o < out; ++o) bias.values[o] = beta * c->values[count == 1 ? 0 : o];
    weights_[layer->name() + ".bias"] = std::move(bias);
  }
  return absl::OkStatus();
}

// Add of two tensors is a layer. Add or Mul with a constant folds into the
// producing Conv/FC when nothing else reads it: a bias, or a scale of the
// weights and bias (per output channel or one value).
absl::Status Translator::AddOrMul(const NodeProto& node, bool add) {
  if (node.input_size() != 2) return Fail(node, "needs two inputs");
  const bool constant_a = IsConstant(node.input(0)), constant_b = IsConstant(node.input(1));
  if (add && !constant_a && !constant_b) {
    ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0), node.input(1)}));
    layer->mutable_add();
    return absl::OkStatus();
  }
  if (constant_a == constant_b) {
    return Unsupported(node, add ? "both inputs are constants"
                                 : "Mul of two tensors (only by a constant after Conv/Gemm)");
  }
  const std::string& value = node.input(constant_a ? 1 : 0);
  const NamedTensor& constant = constants_.at(node.input(constant_a ? 0 : 1));
  ASSIGN_OR_RETURN(std::string producer, LayerOf(node, value));
  LayerDef* target = nullptr;
  for (LayerDef& layer : *def_.mutable_layer()) {
    if (layer.name() == producer) target = &layer;
  }
  const bool foldable = target != nullptr && consumers_[value] == 1 &&
                        (target->has_convolution() || target->has_fully_connected());
  if (!foldable) {
    return Unsupported(node,
                       "a constant operand is supported only right after a Conv or "
                       "Gemm/MatMul whose output nothing else reads");
  }
  const int outputs = target->has_convolution() ? target->convolution().num_output()
                                                : target->fully_connected().num_output();
  const int64_t count = static_cast<int64_t>(constant.values.size());
  if (outputs < 1) return Fail(node, absl::StrCat("'", producer, "' has no outputs"));
  if (count != 1 && count != outputs) {
    return Unsupported(node, absl::StrCat("the constant must have 1 or ", outputs,
                                          " values (one per channel); got ", count));
  }
  auto value_at = [&](int o) { return constant.values[count == 1 ? 0 : o]; };
  const std::string bias_name = producer + ".bias";
  NamedTensor& bias = weights_[bias_name];
  if (bias.values.empty()) bias = NamedTensor{"F32", {outputs}, std::vector<float>(outputs, 0.0f)};
  // The producer's own bias is checked against its shape only later, when
  // the weights are attached; folding needs it now (found by fuzzing).
  if (static_cast<int64_t>(bias.values.size()) != outputs) {
    return Fail(node, absl::StrCat("the bias of '", producer, "' has ", bias.values.size(),
                                   " values for ", outputs, " outputs"));
  }
  if (target->has_convolution()) target->mutable_convolution()->set_bias(true);
  if (target->has_fully_connected()) target->mutable_fully_connected()->set_bias(true);
  if (add) {
    for (int o = 0; o < outputs; ++o) bias.values[o] += value_at(o);
  } else {
    NamedTensor& weight = weights_[producer + ".weight"];
    const int64_t per_output = static_cast<int64_t>(weight.values.size()) / outputs;
    for (int o = 0; o < outputs; ++o) {
      for (int64_t i = 0; i < per_output; ++i) weight.values[o * per_output + i] *= value_at(o);
      bias.values[o] *= value_at(o);
    }
  }
  layer_of_[node.output(0)] = producer;
  rank_of_[node.output(0)] = RankOf(value);
  return absl::OkStatus();
}

absl::Status Translator::Clip(const NodeProto& node) {
  float low = -std::numeric_limits<float>::infinity();
  float high = std::numeric_limits<float>::infinity();
  if (opset_ < 11) {
    low = FloatAttribute(node, "min", low);
    high = FloatAttribute(node, "max", high);
  } else {
    if (node.input_size() > 1 && !node.input(1).empty()) {
      ASSIGN_OR_RETURN(const NamedTensor* t, Constant(node, 1));
      if (t->values.size() != 1) return Fail(node, "min must be a scalar");
      low = t->values[0];
    }
    if (node.input_size() > 2 && !node.input(2).empty()) {
      ASSIGN_OR_RETURN(const NamedTensor* t, Constant(node, 2));
      if (t->values.size() != 1) return Fail(node, "max must be a scalar");
      high = t->values[0];
    }
  }
  ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
  ActivationDef& activation = *layer->mutable_activation();
  if (low == 0.0f && high == std::numeric_limits<float>::infinity()) {
    activation.set_type(ActivationDef::RELU);  // PyTorch exports some ReLUs this way
    return absl::OkStatus();
  }
  activation.set_type(ActivationDef::CLIP);
  activation.set_min(low);
  activation.set_max(high);
  return absl::OkStatus();
}

absl::Status Translator::Pad(const NodeProto& node) {
  std::vector<int64_t> pads;
  if (opset_ < 11) {
    pads = IntsAttribute(node, "pads");
  } else {
    auto it = node.input_size() > 1 ? integers_.find(node.input(1)) : integers_.end();
    if (it == integers_.end()) return Unsupported(node, "pads must be a constant");
    pads = it->second;
    if (node.input_size() > 2 && !node.input(2).empty()) {
      ASSIGN_OR_RETURN(const NamedTensor* value, Constant(node, 2));
      if (value->values.size() != 1 || value->values[0] != 0.0f) {
        return Unsupported(node, "only zero padding");
      }
    }
  }
  if (StringAttribute(node, "mode", "constant") != "constant" ||
      FloatAttribute(node, "value", 0.0f) != 0.0f) {
    return Unsupported(node, "only constant zero padding");
  }
  if (pads.size() != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0) {
    return Unsupported(node, "only padding of the spatial dimensions of an NCHW tensor");
  }
  // Folded into the Conv or pooling that reads it (checked in Run).
  std::vector<int64_t> spatial = {pads[2], pads[3], pads[6], pads[7]};
  const std::string source = Unpadded(node.input(0), spatial);
  padded_[node.output(0)] = {source, spatial};
  rank_of_[node.output(0)] = RankOf(node.input(0));
  return absl::OkStatus();
}

absl::Status Translator::Reshape(const NodeProto& node) {
  auto it = node.input_size() > 1 ? integers_.find(node.input(1)) : integers_.end();
  if (it == integers_.end()) return Unsupported(node, "the shape must be a constant");
  const std::vector<int64_t>& shape = it->second;
  if (shape.size() != 2 || (shape[1] != -1 && shape[0] != 0 && shape[0] != -1)) {
    return Unsupported(node, absl::StrCat("only a reshape to [N, -1] (a flatten); got [",
                                          absl::StrJoin(shape, ", "), "]"));
  }
  ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
  layer->mutable_flatten();
  rank_of_[node.output(0)] = 2;
  return absl::OkStatus();
}

absl::Status Translator::BatchNorm(const NodeProto& node) {
  if (IntAttribute(node, "training_mode", 0) != 0 || IntAttribute(node, "spatial", 1) != 1) {
    return Unsupported(node, "only inference mode with spatial = 1");
  }
  static const char* const kSuffixes[] = {"weight", "bias", "running_mean", "running_var"};
  std::vector<const NamedTensor*> parameters;
  for (int i = 1; i <= 4; ++i) {
    ASSIGN_OR_RETURN(const NamedTensor* t, Constant(node, i));
    parameters.push_back(t);
  }
  ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
  layer->mutable_batch_norm()->set_eps(FloatAttribute(node, "epsilon", 1e-5f));
  for (int i = 0; i < 4; ++i) weights_[layer->name() + "." + kSuffixes[i]] = *parameters[i];
  return absl::OkStatus();
}

}  // namespace convd::onnx_import
