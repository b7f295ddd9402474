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

absl::Status Translator::Conv(const NodeProto& node) {
  ASSIGN_OR_RETURN(const NamedTensor* weight, Constant(node, 1));
  if (weight->shape.size() != 4) {
    return Unsupported(
        node, absl::StrCat("only 2-D convolutions; weight has rank ", weight->shape.size()));
  }
  std::vector<int64_t> pads = IntsAttribute(node, "pads");
  if (pads.empty()) pads.assign(4, 0);
  if (pads.size() != 4) return Fail(node, "pads must have 4 values");
  const std::string input = Unpadded(node.input(0), pads);
  const std::string auto_pad = StringAttribute(node, "auto_pad", "NOTSET");
  std::vector<int64_t> strides = IntsAttribute(node, "strides");
  std::vector<int64_t> dilations = IntsAttribute(node, "dilations");
  if (strides.empty()) strides = {1, 1};
  if (dilations.empty()) dilations = {1, 1};
  const std::vector<int64_t> kernel = {weight->shape[2], weight->shape[3]};
  ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {input}));
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    // Needs the input size: build the network so far to learn it (the
    // input's size is known without layers).
    TensorShape in{1, def_.input().channels(), def_.input().height(), def_.input().width()};
    if (def_.layer_size() > 1) {
      NetworkDef partial = def_;
      partial.mutable_layer()->RemoveLast();
      ASSIGN_OR_RETURN(Graph graph, GraphFromNetworkDef(partial));
      const int source = graph.Find(layer->input(0));
      if (source >= 0) in = graph.layers[source].output;
    }
    const int64_t size[2] = {in.h, in.w};
    for (int axis = 0; axis < 2; ++axis) {
      const int64_t out = (size[axis] + strides[axis] - 1) / strides[axis];
      const int64_t total = std::max<int64_t>(
          0, (out - 1) * strides[axis] + (kernel[axis] - 1) * dilations[axis] + 1 - size[axis]);
      const int64_t small = total / 2, large = total - small;
      pads[axis] += auto_pad == "SAME_UPPER" ? small : large;
      pads[axis + 2] += auto_pad == "SAME_UPPER" ? large : small;
    }
  } else if (auto_pad != "NOTSET" && auto_pad != "VALID") {
    return Fail(node, absl::StrCat("unknown auto_pad '", auto_pad, "'"));
  }
  ConvolutionDef& conv = *layer->mutable_convolution();
  conv.set_num_output(static_cast<int>(weight->shape[0]));
  for (int64_t k : kernel) conv.add_kernel(static_cast<int>(k));
  for (int64_t s : strides) conv.add_stride(static_cast<int>(s));
  for (int64_t d : dilations) conv.add_dilation(static_cast<int>(d));
  for (int64_t p : pads) conv.add_pad(static_cast<int>(p));
  conv.set_groups(static_cast<int>(IntAttribute(node, "group", 1)));
  weights_[layer->name() + ".weight"] = *weight;
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
  std::vector<int64_t> pads = IntsAttribute(node, "pads");
  if (pads.empty()) pads.assign(4, 0);
  if (pads.size() != 4) return Fail(node, "pads must have 4 values");
  const std::string input = global ? node.input(0) : Unpadded(node.input(0), pads);
  ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {input}));
  PoolingDef& pool = *layer->mutable_pooling();
  pool.set_method(max ? PoolingDef::MAX : PoolingDef::AVERAGE);
  if (global) {
    pool.set_global(true);
    return absl::OkStatus();
  }
  const std::string auto_pad = StringAttribute(node, "auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") {
    return Unsupported(node, absl::StrCat("auto_pad ", auto_pad, " on pooling"));
  }
  for (int64_t d : IntsAttribute(node, "dilations")) {
    if (d != 1) return Unsupported(node, "dilated pooling");
  }
  const std::vector<int64_t> kernel = IntsAttribute(node, "kernel_shape");
  if (kernel.size() != 2) return Unsupported(node, "only 2-D pooling (kernel_shape of 2)");
  std::vector<int64_t> strides = IntsAttribute(node, "strides");
  if (strides.empty()) strides = {1, 1};
  for (int64_t k : kernel) pool.add_kernel(static_cast<int>(k));
  for (int64_t s : strides) pool.add_stride(static_cast<int>(s));
  for (int64_t p : pads) pool.add_pad(static_cast<int>(p));
  pool.set_ceil_mode(IntAttribute(node, "ceil_mode", 0) != 0);
  pool.set_count_include_pad(IntAttribute(node, "count_include_pad", 0) != 0);
  return absl::OkStatus();
}

absl::Status Translator::Gemm(const NodeProto& node, bool matmul) {
  ASSIGN_OR_RETURN(const NamedTensor* b, Constant(node, 1));
  if (b->shape.size() != 2) return Unsupported(node, "the second input must be a 2-D constant");
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
  const int64_t count = Elements(constant.shape);
  if (count != 1 && count != outputs) {
    return Unsupported(node, absl::StrCat("the constant must have 1 or ", outputs,
                                          " values (one per channel); got ", count));
  }
  auto value_at = [&](int o) { return constant.values[count == 1 ? 0 : o]; };
  const std::string bias_name = producer + ".bias";
  NamedTensor& bias = weights_[bias_name];
  if (bias.values.empty()) bias = NamedTensor{"F32", {outputs}, std::vector<float>(outputs, 0.0f)};
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
  if (low != 0.0f || high < std::numeric_limits<float>::max()) {
    return Unsupported(
        node, absl::StrCat("only Clip(min 0, no max), a ReLU; got min ", low, " max ", high));
  }
  ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
  layer->mutable_activation()->set_type(ActivationDef::RELU);
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
