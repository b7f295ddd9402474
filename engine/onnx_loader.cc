#include "engine/onnx_loader.h"

#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/file_util.h"
#include "engine/network_loader.h"
#include "engine/onnx_tensors.h"
#include "engine/onnx_translator.h"
#include "engine/status_macros.h"
#include "engine/weights.h"
#include "onnx/onnx_pb.h"

namespace convd {
namespace onnx_import {

using onnx::NodeProto;
using onnx::TensorProto;

constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 18;

absl::Status Translator::ReadInitializers() {
  for (const TensorProto& tensor : model_.graph().initializer()) {
    if (tensor.data_type() == TensorProto::INT64) {
      ASSIGN_OR_RETURN(integers_[tensor.name()], DecodeInt64Tensor(tensor));
    } else {
      ASSIGN_OR_RETURN(constants_[tensor.name()],
                       DecodeFloatTensor(tensor, options_.model_directory));
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
    return absl::UnimplementedError(absl::StrCat("input '", data->name(), "' must be FLOAT"));
  }
  std::vector<int64_t> dims;
  for (int i = 1; i < type.shape().dim_size(); ++i) {
    const auto& dim = type.shape().dim(i);
    if (!dim.has_dim_value() || dim.dim_value() < 1 || dim.dim_value() > (1 << 20)) {
      return absl::UnimplementedError(
          absl::StrCat("input '", data->name(), "' dimension ", i,
                       " must be a fixed positive size (only the batch dimension may vary)"));
    }
    dims.push_back(dim.dim_value());
  }
  if (dims.size() > 3) {
    return absl::UnimplementedError(absl::StrCat("input '", data->name(), "' has rank ",
                                                 dims.size() + 1, "; convd takes at most 4 "
                                                 "dimensions, [N, C, H, W]"));
  }
  // [N], [N, C] and [N, C, H] fill the missing trailing dimensions with 1;
  // operators that depend on the layout check their input themselves.
  dims.resize(3, 1);
  InputDef& input = *def_.mutable_input();
  input.set_name(data->name());
  input.set_channels(static_cast<int>(dims[0]));
  input.set_height(static_cast<int>(dims[1]));
  input.set_width(static_cast<int>(dims[2]));
  layer_of_[data->name()] = data->name();
  rank_of_[data->name()] = std::max(1, type.shape().dim_size());
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
    return Unsupported(
        node, absl::StrCat("input '", node.input(input), "' must be a constant (an initializer)"));
  }
  return &it->second;
}

absl::StatusOr<LayerDef*> Translator::AddLayer(const NodeProto& node,
                                               const std::vector<std::string>& inputs) {
  LayerDef* layer = def_.add_layer();
  std::string name =
      node.name().empty() ? absl::StrCat(node.op_type(), "_", def_.layer_size()) : node.name();
  while (layer_names_.contains(name)) absl::StrAppend(&name, "_");
  layer_names_.insert(name);
  layer->set_name(name);
  for (const std::string& value : inputs) {
    ASSIGN_OR_RETURN(std::string source, LayerOf(node, value));
    layer->add_input(source);
  }
  if (node.output_size() < 1) return Fail(node, "has no output");
  layer_of_[node.output(0)] = name;
  rank_of_[node.output(0)] = inputs.empty() ? 4 : RankOf(inputs[0]);
  return layer;
}

int Translator::RankOf(const std::string& value) const {
  auto it = rank_of_.find(value);
  return it == rank_of_.end() ? 4 : it->second;
}

absl::StatusOr<TensorShape> Translator::ShapeOf(const NodeProto& node, const std::string& value) {
  ASSIGN_OR_RETURN(const std::string layer, LayerOf(node, value));
  const InputDef& input = def_.input();
  if (layer == input.name()) return TensorShape{1, input.channels(), input.height(), input.width()};
  ASSIGN_OR_RETURN(Graph graph, GraphFromNetworkDef(def_));
  const int index = graph.Find(layer);
  if (index < 0) return Fail(node, absl::StrCat("input '", value, "' has no layer"));
  return graph.layers[index].output;
}

namespace {

// ONNX's negative axes count from the end.
int64_t NormalizedAxis(int64_t axis, int rank) { return axis < 0 ? axis + rank : axis; }

}  // namespace

std::string Translator::Unpadded(const std::string& value, std::vector<int64_t>& pads) const {
  auto it = padded_.find(value);
  if (it == padded_.end()) return value;
  for (int i = 0; i < 4; ++i) pads[i] += it->second.pads[i];
  return it->second.source;
}

absl::Status Translator::Translate(const NodeProto& node) {
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    return Unsupported(node, absl::StrCat("operator domain '", node.domain(), "'"));
  }
  const std::string& op = node.op_type();
  if (node.input_size() < 1 && op != "Constant") return Fail(node, "has no input");
  // Every translation names node.output(0); found by fuzzing (Pad).
  if (node.output_size() < 1 || node.output(0).empty()) return Fail(node, "has no output");
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
    rank_of_[node.output(0)] = RankOf(node.input(0));
    return absl::OkStatus();
  }
  if (op == "Constant") {
    const auto* value = FindAttribute(node, "value");
    if (value == nullptr || node.output_size() != 1) {
      return Unsupported(node, "only Constant with a tensor 'value'");
    }
    if (value->t().data_type() == TensorProto::INT64) {
      ASSIGN_OR_RETURN(integers_[node.output(0)], DecodeInt64Tensor(value->t()));
    } else {
      ASSIGN_OR_RETURN(constants_[node.output(0)],
                       DecodeFloatTensor(value->t(), options_.model_directory));
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
    // convd normalises over the channels at each position. From opset 13
    // that is axis 1; before, axis 1 meant over all of C*H*W, the same only
    // when H = W = 1 (checked once shapes are known).
    const int rank = RankOf(node.input(0));
    const int64_t axis = IntAttribute(node, "axis", opset_ < 13 ? 1 : -1);
    if (NormalizedAxis(axis, rank) != 1) {
      return Unsupported(node, absl::StrCat("axis ", axis, " of a rank ", rank,
                                            " input; convd normalises over axis 1 (channels)"));
    }
    ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
    layer->mutable_softmax()->set_log(op == "LogSoftmax");
    if (opset_ < 13 && rank > 2) flat_softmax_layers_.push_back(layer->name());
    return absl::OkStatus();
  }
  if (op == "Flatten") {
    const int rank = RankOf(node.input(0));
    const int64_t axis = IntAttribute(node, "axis", 1);
    if (NormalizedAxis(axis, rank) != 1) {
      return Unsupported(node, absl::StrCat("axis ", axis, " of a rank ", rank,
                                            " input; convd keeps axis 0 as the batch, so only "
                                            "axis 1 ([N, rest])"));
    }
    ASSIGN_OR_RETURN(LayerDef * layer, AddLayer(node, {node.input(0)}));
    layer->mutable_flatten();
    rank_of_[node.output(0)] = 2;
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
    const int rank = RankOf(node.input(0));
    const int64_t axis = IntAttribute(node, "axis", 1);
    if (NormalizedAxis(axis, rank) != 1) {
      return Unsupported(node, absl::StrCat("axis ", axis, " of a rank ", rank,
                                            " input; convd concatenates channels (axis 1)"));
    }
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
      if (padded_.contains(input) && node.op_type() != "Conv" && node.op_type() != "MaxPool" &&
          node.op_type() != "AveragePool" && node.op_type() != "Pad") {
        return Unsupported(node, "reads a Pad output; padding folds only into Conv or pooling");
      }
    }
    RETURN_IF_ERROR(Translate(node));
  }
  if (model_.graph().output_size() != 1) {
    return absl::UnimplementedError(
        absl::StrCat("the graph has ", model_.graph().output_size(), " outputs; convd serves one"));
  }
  const std::string& output = model_.graph().output(0).name();
  auto it = layer_of_.find(output);
  if (it == layer_of_.end() || def_.layer_size() == 0 ||
      it->second != def_.layer(def_.layer_size() - 1).name()) {
    return absl::UnimplementedError(absl::StrCat("the graph output '", output,
                                                 "' must be produced by the last computing node"));
  }
  ASSIGN_OR_RETURN(Graph graph, GraphFromNetworkDef(def_));
  for (const std::string& name : flat_softmax_layers_) {
    const Layer& layer = graph.layers[graph.Find(name)];
    const TensorShape& in = graph.layers[layer.inputs[0]].output;
    if (in.h != 1 || in.w != 1) {
      return absl::UnimplementedError(absl::StrCat(
          "softmax '", name, "' (opset ", opset_, " < 13) normalises over all of C*H*W of ",
          in.ToString(), "; convd normalises over channels at each position (opset 13's "
          "axis 1), the same only when H = W = 1"));
    }
  }
  RETURN_IF_ERROR(AttachWeights(weights_, graph));
  graph.output_name = output;
  return graph;
}

}  // namespace onnx_import

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
  if (opset < onnx_import::kMinOpset || opset > onnx_import::kMaxOpset) {
    return absl::UnimplementedError(absl::StrCat("ONNX opset ", opset,
                                                 " is not supported; convd "
                                                 "reads opsets ",
                                                 onnx_import::kMinOpset, " to ",
                                                 onnx_import::kMaxOpset));
  }
  return onnx_import::Translator(model, opset, options).Run();
}

absl::StatusOr<Graph> LoadOnnxFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  OnnxImportOptions options;
  options.model_directory = std::filesystem::path(path).parent_path().string();
  auto graph = ImportOnnx(bytes, options);
  if (!graph.ok()) {
    return absl::Status(graph.status().code(), absl::StrCat(path, ": ", graph.status().message()));
  }
  return graph;
}

}  // namespace convd
