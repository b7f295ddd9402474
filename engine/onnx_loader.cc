#include "engine/onnx_loader.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/network_loader.h"
#include "engine/status_macros.h"
#include "engine/weights.h"
#include "onnx/onnx_pb.h"

namespace convd {
namespace {

namespace fs = std::filesystem;
using onnx::NodeProto;
using onnx::TensorProto;

constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 18;

// One ONNX graph being translated into a NetworkDef plus weights.
class Translator {
 public:
  Translator(const onnx::ModelProto& model, int64_t opset, const OnnxImportOptions& options)
      : model_(model), opset_(opset), options_(options) {}

  absl::StatusOr<Graph> Run();

 private:
  absl::Status Fail(const NodeProto& node, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat("node '", node.name(), "' (", node.op_type(),
                                                   ", opset ", opset_, "): ", what));
  }
  absl::Status Unsupported(const NodeProto& node, const std::string& what) const {
    return absl::UnimplementedError(absl::StrCat("node '", node.name(), "' (", node.op_type(),
                                                 ", opset ", opset_, "): ", what));
  }

  absl::Status ReadInitializers();
  absl::Status ReadInput();
  absl::Status Translate(const NodeProto& node);
  absl::StatusOr<NamedTensor> DecodeFloat(const TensorProto& tensor) const;
  absl::StatusOr<std::vector<int64_t>> DecodeInt64(const TensorProto& tensor) const;
  absl::StatusOr<std::string> ReadExternal(const TensorProto& tensor) const;

  // The layer producing ONNX value `value`; fails for constants.
  absl::StatusOr<std::string> LayerOf(const NodeProto& node, const std::string& value) const;
  bool IsConstant(const std::string& value) const { return constants_.contains(value); }
  absl::StatusOr<const NamedTensor*> Constant(const NodeProto& node, int input) const;
  // Adds a layer reading `inputs` (ONNX values) and producing node.output(0).
  absl::StatusOr<LayerDef*> AddLayer(const NodeProto& node, const std::vector<std::string>& inputs);
  // Input value of a Conv/pool with any folded Pad node removed; adds its pads.
  std::string Unpadded(const std::string& value, std::vector<int64_t>& pads) const;

  absl::Status Conv(const NodeProto& node);
  absl::Status Pool(const NodeProto& node, bool max, bool global);
  absl::Status Gemm(const NodeProto& node, bool matmul);
  absl::Status AddOrMul(const NodeProto& node, bool add);
  absl::Status Clip(const NodeProto& node);
  absl::Status Pad(const NodeProto& node);
  absl::Status Reshape(const NodeProto& node);
  absl::Status BatchNorm(const NodeProto& node);

  const onnx::ModelProto& model_;
  const int64_t opset_;
  const OnnxImportOptions options_;
  NetworkDef def_;
  TensorMap weights_;
  std::map<std::string, NamedTensor> constants_;   // float initializers and Constant outputs
  std::map<std::string, std::vector<int64_t>> integers_;  // int64 ones (shapes, pads)
  std::map<std::string, std::string> layer_of_;    // ONNX value -> layer name
  std::map<std::string, int> consumers_;           // ONNX value -> nodes reading it
  struct Padding {
    std::string source;
    std::vector<int64_t> pads;  // top, left, bottom, right
  };
  std::map<std::string, Padding> padded_;  // output of a folded Pad node
  std::set<std::string> layer_names_;
  std::vector<std::pair<std::string, int>> softmax_checks_;  // layer, opset rule
};

const onnx::AttributeProto* FindAttribute(const NodeProto& node, const std::string& name) {
  for (const auto& attribute : node.attribute()) {
    if (attribute.name() == name) return &attribute;
  }
  return nullptr;
}

int64_t IntAttribute(const NodeProto& node, const std::string& name, int64_t fallback) {
  const auto* a = FindAttribute(node, name);
  return a != nullptr ? a->i() : fallback;
}

float FloatAttribute(const NodeProto& node, const std::string& name, float fallback) {
  const auto* a = FindAttribute(node, name);
  return a != nullptr ? a->f() : fallback;
}

std::vector<int64_t> IntsAttribute(const NodeProto& node, const std::string& name) {
  const auto* a = FindAttribute(node, name);
  return a != nullptr ? std::vector<int64_t>(a->ints().begin(), a->ints().end())
                      : std::vector<int64_t>();
}

std::string StringAttribute(const NodeProto& node, const std::string& name,
                            const std::string& fallback) {
  const auto* a = FindAttribute(node, name);
  return a != nullptr ? a->s() : fallback;
}

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

absl::StatusOr<std::string> Translator::ReadExternal(const TensorProto& tensor) const {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& entry : tensor.external_data()) {
    if (entry.key() == "location") location = entry.value();
    if (entry.key() == "offset") offset = std::stoll(entry.value());
    if (entry.key() == "length") length = std::stoll(entry.value());
  }
  const fs::path relative = fs::path(location).lexically_normal();
  if (options_.model_directory.empty() || location.empty() || relative.is_absolute() ||
      relative.empty() || *relative.begin() == "..") {
    return absl::InvalidArgumentError(absl::StrCat(
        "initializer '", tensor.name(), "': external data '", location,
        "' must be a relative path inside the model directory"));
  }
  std::ifstream file(fs::path(options_.model_directory) / relative, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("initializer '", tensor.name(),
                                            "': cannot open external data '", location, "'"));
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  const std::string data = contents.str();
  if (offset < 0 || offset > static_cast<int64_t>(data.size()) ||
      (length >= 0 && offset + length > static_cast<int64_t>(data.size()))) {
    return absl::InvalidArgumentError(absl::StrCat("initializer '", tensor.name(),
                                                   "': external data range outside '",
                                                   location, "'"));
  }
  return data.substr(offset, length >= 0 ? length : std::string::npos);
}

absl::StatusOr<NamedTensor> Translator::DecodeFloat(const TensorProto& tensor) const {
  NamedTensor out;
  out.dtype = "F32";
  out.shape.assign(tensor.dims().begin(), tensor.dims().end());
  for (int64_t d : out.shape) {
    if (d < 0 || d > (int64_t{1} << 31)) {
      return absl::InvalidArgumentError(absl::StrCat("initializer '", tensor.name(),
                                                     "' has a bad dimension ", d));
    }
  }
  const int64_t count = Elements(out.shape);
  std::string raw;
  if (tensor.data_location() == TensorProto::EXTERNAL) {
    ASSIGN_OR_RETURN(raw, ReadExternal(tensor));
  } else {
    raw = tensor.raw_data();
  }
  const bool is_double = tensor.data_type() == TensorProto::DOUBLE;
  if (tensor.data_type() != TensorProto::FLOAT && !is_double) {
    return absl::UnimplementedError(absl::StrCat(
        "initializer '", tensor.name(), "' has data type ",
        TensorProto::DataType_Name(static_cast<TensorProto::DataType>(tensor.data_type())),
        "; convd takes FLOAT weights"));
  }
  out.values.resize(count);
  if (!raw.empty() || count == 0) {
    const size_t element = is_double ? 8 : 4;
    if (raw.size() != static_cast<size_t>(count) * element) {
      return absl::InvalidArgumentError(absl::StrCat("initializer '", tensor.name(), "' holds ",
                                                     raw.size(), " bytes for ", count,
                                                     " elements"));
    }
    for (int64_t i = 0; i < count; ++i) {
      if (is_double) {
        double v;
        std::memcpy(&v, raw.data() + i * 8, 8);
        out.values[i] = static_cast<float>(v);
      } else {
        std::memcpy(&out.values[i], raw.data() + i * 4, 4);
      }
    }
  } else if (!is_double && tensor.float_data_size() == count) {
    std::copy(tensor.float_data().begin(), tensor.float_data().end(), out.values.begin());
  } else if (is_double && tensor.double_data_size() == count) {
    std::copy(tensor.double_data().begin(), tensor.double_data().end(), out.values.begin());
  } else {
    return absl::InvalidArgumentError(absl::StrCat("initializer '", tensor.name(), "' has ",
                                                   std::max(tensor.float_data_size(),
                                                            tensor.double_data_size()),
                                                   " values for shape [",
                                                   absl::StrJoin(out.shape, ", "), "]"));
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> Translator::DecodeInt64(const TensorProto& tensor) const {
  const int64_t count = Elements(std::vector<int64_t>(tensor.dims().begin(), tensor.dims().end()));
  if (tensor.data_type() != TensorProto::INT64 || count < 0 || count > 64) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor.name(),
                                                   "' must be a small INT64 tensor"));
  }
  std::vector<int64_t> values(count);
  if (tensor.raw_data().size() == static_cast<size_t>(count) * 8) {
    std::memcpy(values.data(), tensor.raw_data().data(), count * 8);
  } else if (tensor.int64_data_size() == count) {
    std::copy(tensor.int64_data().begin(), tensor.int64_data().end(), values.begin());
  } else {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor.name(),
                                                   "' has the wrong number of values"));
  }
  return values;
}

absl::Status Translator::ReadInitializers() {
  for (const TensorProto& tensor : model_.graph().initializer()) {
    if (tensor.data_type() == TensorProto::INT64) {
      ASSIGN_OR_RETURN(integers_[tensor.name()], DecodeInt64(tensor));
    } else {
      ASSIGN_OR_RETURN(constants_[tensor.name()], DecodeFloat(tensor));
    }
  }
  return absl::OkStatus();
}

absl::Status Translator::ReadInput() {
  const onnx::ValueInfoProto* data = nullptr;
  for (const auto& input : model_.graph().input()) {
    if (constants_.contains(input.name()) || integers_.contains(input.name())) continue;
    if (data != nullptr) {
      return absl::UnimplementedError(absl::StrCat("the graph has more than one data input ('",
                                                   data->name(), "', '", input.name(), "')"));
    }
    data = &input;
  }
  if (data == nullptr) return absl::InvalidArgumentError("the graph has no data input");
  const auto& type = data->type().tensor_type();
  if (type.elem_type() != TensorProto::FLOAT) {
    return absl::UnimplementedError(absl::StrCat("input '", data->name(),
                                                 "' must be FLOAT"));
  }
  std::vector<int64_t> dims;
  for (int i = 1; i < type.shape().dim_size(); ++i) {
    const auto& dim = type.shape().dim(i);
    if (!dim.has_dim_value() || dim.dim_value() < 1 || dim.dim_value() > (1 << 20)) {
      return absl::UnimplementedError(absl::StrCat(
          "input '", data->name(), "' dimension ", i,
          " must be a fixed positive size (only the batch dimension may vary)"));
    }
    dims.push_back(dim.dim_value());
  }
  if (dims.empty() || dims.size() > 3) {
    return absl::UnimplementedError(absl::StrCat("input '", data->name(), "' has rank ",
                                                 dims.size() + 1, "; convd takes [N, C, H, W]"
                                                 " or [N, C]"));
  }
  dims.resize(3, 1);
  InputDef& input = *def_.mutable_input();
  input.set_name(data->name());
  input.set_channels(static_cast<int>(dims[0]));
  input.set_height(static_cast<int>(dims[1]));
  input.set_width(static_cast<int>(dims[2]));
  layer_of_[data->name()] = data->name();
  layer_names_.insert(data->name());
  return absl::OkStatus();
}

absl::StatusOr<std::string> Translator::LayerOf(const NodeProto& node,
                                                const std::string& value) const {
  auto it = layer_of_.find(value);
  if (it == layer_of_.end()) {
    return Fail(node, absl::StrCat("input '", value, "' is not produced by any earlier node"));
  }
  return it->second;
}

absl::StatusOr<const NamedTensor*> Translator::Constant(const NodeProto& node, int input) const {
  if (input >= node.input_size() || node.input(input).empty()) {
    return Fail(node, absl::StrCat("input ", input, " is missing"));
  }
  auto it = constants_.find(node.input(input));
  if (it == constants_.end()) {
    return Unsupported(node, absl::StrCat("input '", node.input(input),
                                          "' must be a constant (an initializer)"));
  }
  return &it->second;
}

absl::StatusOr<LayerDef*> Translator::AddLayer(const NodeProto& node,
                                               const std::vector<std::string>& inputs) {
  LayerDef* layer = def_.add_layer();
  std::string name = node.name().empty() ? absl::StrCat(node.op_type(), "_", def_.layer_size())
                                         : node.name();
  while (layer_names_.contains(name)) absl::StrAppend(&name, "_");
  layer_names_.insert(name);
  layer->set_name(name);
  for (const std::string& value : inputs) {
    ASSIGN_OR_RETURN(std::string source, LayerOf(node, value));
    layer->add_input(source);
  }
  if (node.output_size() < 1) return Fail(node, "has no output");
  layer_of_[node.output(0)] = name;
  return layer;
}

std::string Translator::Unpadded(const std::string& value, std::vector<int64_t>& pads) const {
  auto it = padded_.find(value);
  if (it == padded_.end()) return value;
  for (int i = 0; i < 4; ++i) pads[i] += it->second.pads[i];
  return it->second.source;
}

absl::Status Translator::Conv(const NodeProto& node) {
  ASSIGN_OR_RETURN(const NamedTensor* weight, Constant(node, 1));
  if (weight->shape.size() != 4) {
    return Unsupported(node, absl::StrCat("only 2-D convolutions; weight has rank ",
                                          weight->shape.size()));
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
    // Needs the input size: build the network so far to learn it.
    NetworkDef partial = def_;
    partial.mutable_layer()->RemoveLast();
    ASSIGN_OR_RETURN(Graph graph, GraphFromNetworkDef(partial));
    const TensorShape in = graph.Find(layer->input(0)) >= 0
                               ? graph.layers[graph.Find(layer->input(0))].output
                               : graph.input().output;
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
      weight.values[o * in + i] = alpha * (trans_b ? b->values[o * in + i] : b->values[i * out + o]);
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
    return Unsupported(node, "a constant operand is supported only right after a Conv or "
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
    return Unsupported(node, absl::StrCat("only Clip(min 0, no max), a ReLU; got min ", low,
                                          " max ", high));
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

absl::Status Translator::Translate(const NodeProto& node) {
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    return Unsupported(node, absl::StrCat("operator domain '", node.domain(), "'"));
  }
  const std::string& op = node.op_type();
  if (node.input_size() < 1 && op != "Constant") return Fail(node, "has no input");
  if (op == "Conv") return Conv(node);
  if (op == "MaxPool" || op == "AveragePool") return Pool(node, op == "MaxPool", false);
  if (op == "GlobalMaxPool" || op == "GlobalAveragePool") {
    return Pool(node, op == "GlobalMaxPool", true);
  }
  if (op == "Gemm" || op == "MatMul") return Gemm(node, op == "MatMul");
  if (op == "Add" || op == "Mul") return AddOrMul(node, op == "Add");
  if (op == "Clip") return Clip(node);
  if (op == "Pad") return Pad(node);
  if (op == "Reshape") return Reshape(node);
  if (op == "BatchNormalization") return BatchNorm(node);
  if (op == "Dropout" || op == "Identity") {
    ASSIGN_OR_RETURN(layer_of_[node.output(0)], LayerOf(node, node.input(0)));
    return absl::OkStatus();
  }
  if (op == "Constant") {
    const auto* value = FindAttribute(node, "value");
    if (value == nullptr || node.output_size() != 1) {
      return Unsupported(node, "only Constant with a tensor 'value'");
    }
    if (value->t().data_type() == TensorProto::INT64) {
      ASSIGN_OR_RETURN(integers_[node.output(0)], DecodeInt64(value->t()));
    } else {
      ASSIGN_OR_RETURN(constants_[node.output(0)], DecodeFloat(value->t()));
    }
    return absl::OkStatus();
  }
  if (op == "Relu" || op == "LeakyRelu" || op == "Sigmoid" || op == "Tanh") {
    ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
    ActivationDef& activation = *layer->mutable_activation();
    if (op == "LeakyRelu") {
      activation.set_type(ActivationDef::LEAKY_RELU);
      activation.set_negative_slope(FloatAttribute(node, "alpha", 0.01f));
    }
    if (op == "Sigmoid") activation.set_type(ActivationDef::SIGMOID);
    if (op == "Tanh") activation.set_type(ActivationDef::TANH);
    return absl::OkStatus();
  }
  if (op == "Softmax" || op == "LogSoftmax") {
    const int64_t axis = IntAttribute(node, "axis", opset_ < 13 ? 1 : -1);
    if (axis != 1 && axis != -1) {
      return Unsupported(node, absl::StrCat("axis ", axis, "; convd normalises over channels"));
    }
    ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
    layer->mutable_softmax()->set_log(op == "LogSoftmax");
    // Before opset 13 axis 1 means over C*H*W, as convd does; from 13 on it
    // means over one axis, which matches only when H = W = 1.
    if (opset_ >= 13 || axis == -1) softmax_checks_.emplace_back(layer->name(), 0);
    return absl::OkStatus();
  }
  if (op == "Flatten") {
    if (IntAttribute(node, "axis", 1) != 1) return Unsupported(node, "only axis = 1");
    ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
    layer->mutable_flatten();
    return absl::OkStatus();
  }
  if (op == "LRN") {
    ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
    LrnDef& lrn = *layer->mutable_lrn();
    lrn.set_size(static_cast<int>(IntAttribute(node, "size", 5)));
    lrn.set_alpha(FloatAttribute(node, "alpha", 1e-4f));
    lrn.set_beta(FloatAttribute(node, "beta", 0.75f));
    lrn.set_k(FloatAttribute(node, "bias", 1.0f));
    return absl::OkStatus();
  }
  if (op == "Concat") {
    if (IntAttribute(node, "axis", 1) != 1) return Unsupported(node, "only axis = 1 (channels)");
    std::vector<std::string> inputs(node.input().begin(), node.input().end());
    ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, inputs));
    layer->mutable_concat();
    return absl::OkStatus();
  }
  return Unsupported(node, "operator not supported by convd");
}

absl::StatusOr<Graph> Translator::Run() {
  def_.set_name(model_.graph().name());
  RETURN_IF_ERROR(ReadInitializers());
  RETURN_IF_ERROR(ReadInput());
  for (const NodeProto& node : model_.graph().node()) {
    for (const std::string& input : node.input()) ++consumers_[input];
  }
  for (const NodeProto& node : model_.graph().node()) {
    for (const std::string& input : node.input()) {
      if (padded_.contains(input) && node.op_type() != "Conv" &&
          node.op_type() != "MaxPool" && node.op_type() != "AveragePool" &&
          node.op_type() != "Pad") {
        return Unsupported(node, "reads a Pad output; padding folds only into Conv or pooling");
      }
    }
    RETURN_IF_ERROR(Translate(node));
  }
  if (model_.graph().output_size() != 1) {
    return absl::UnimplementedError(absl::StrCat("the graph has ", model_.graph().output_size(),
                                                 " outputs; convd serves one"));
  }
  const std::string& output = model_.graph().output(0).name();
  auto it = layer_of_.find(output);
  if (it == layer_of_.end() || def_.layer_size() == 0 ||
      it->second != def_.layer(def_.layer_size() - 1).name()) {
    return absl::UnimplementedError(absl::StrCat(
        "the graph output '", output, "' must be produced by the last computing node"));
  }
  ASSIGN_OR_RETURN(Graph graph, GraphFromNetworkDef(def_));
  for (const auto& [name, rule] : softmax_checks_) {
    const Layer& layer = graph.layers[graph.Find(name)];
    const TensorShape& in = graph.layers[layer.inputs[0]].output;
    if (in.h != 1 || in.w != 1) {
      return absl::UnimplementedError(absl::StrCat(
          "softmax '", name, "' over one axis of ", in.ToString(),
          ": convd normalises over all of C*H*W (use it on [N, C] inputs)"));
    }
  }
  RETURN_IF_ERROR(AttachWeights(weights_, graph));
  return graph;
}

}  // namespace

absl::StatusOr<Graph> ImportOnnx(std::string_view bytes, const OnnxImportOptions& options) {
  onnx::ModelProto model;
  if (bytes.size() > (size_t{2} << 30) ||
      !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("not an ONNX model (ModelProto does not parse)");
  }
  if (!model.has_graph()) return absl::InvalidArgumentError("the ONNX model has no graph");
  int64_t opset = -1;
  for (const auto& import : model.opset_import()) {
    if (import.domain().empty() || import.domain() == "ai.onnx") opset = import.version();
  }
  if (opset < kMinOpset || opset > kMaxOpset) {
    return absl::UnimplementedError(absl::StrCat("ONNX opset ", opset, " is not supported; convd "
                                                 "reads opsets ", kMinOpset, " to ", kMaxOpset));
  }
  return Translator(model, opset, options).Run();
}

absl::StatusOr<Graph> LoadOnnxFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream contents;
  contents << file.rdbuf();
  OnnxImportOptions options;
  options.model_directory = fs::path(path).parent_path().string();
  auto graph = ImportOnnx(contents.str(), options);
  if (!graph.ok()) {
    return absl::Status(graph.status().code(), absl::StrCat(path, ": ", graph.status().message()));
  }
  return graph;
}

}  // namespace convd
