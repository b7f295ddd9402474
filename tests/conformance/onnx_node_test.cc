// ONNX's own backend node tests (Debian's libonnx-testdata) through convd's
// importer and CPU backend, for every case of the operators convd supports.
// Each case's weights and parameters (inputs after the first) become
// constants, as an exported model stores them. Outputs are compared at
// ONNX's tolerances: |y - expected| <= atol + rtol * |expected|.
//
// Prints passed/failed/skipped per operator. A case may be skipped only for
// a feature convd deliberately does not support, listed in kSkips with the
// reason; every other case must pass, and every listed skip must still
// match an unsupported case (so the list cannot go stale).
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/executor.h"
#include "engine/file_util.h"
#include "engine/graph_passes.h"
#include "engine/onnx_loader.h"
#include "engine/planner.h"
#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"

namespace convd {
namespace {

namespace fs = std::filesystem;

constexpr char kNodeTests[] = "/usr/share/libonnx-testdata/data/node";
constexpr double kRtol = 1e-3, kAtol = 1e-7;

const std::set<std::string> kOperators = {
    "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul",
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Softmax", "LogSoftmax", "LRN",
    "BatchNormalization", "Flatten", "Reshape", "Dropout", "Identity", "Add", "Mul", "Concat",
    "Constant", "Pad"};

// What convd deliberately does not support, by case name: an entry matches
// a case named exactly so or starting with it and "_"; the first match wins.
const std::vector<std::pair<std::string, std::string>> kSkips = {
    {"test_add_uint8", "integer tensors: convd computes in FP32"},
    {"test_mul_uint8", "integer tensors: convd computes in FP32"},
    {"test_maxpool_2d_uint8", "integer tensors: convd computes in FP32"},
    {"test_clip_default_int8", "integer tensors: convd computes in FP32"},
    {"test_add",
     "two data inputs: a convd network has one input; as a constant, Add/Mul folds only into "
     "the Conv or Gemm before it (bias, scale), which these one-node graphs lack"},
    {"test_mul",
     "two data inputs: a convd network has one input; as a constant, Add/Mul folds only into "
     "the Conv or Gemm before it (bias, scale), which these one-node graphs lack"},
    {"test_concat",
     "two data inputs (a convd network has one; it concatenates layer outputs) or an axis "
     "other than 1 (convd concatenates channels)"},
    {"test_averagepool_3d", "3-D (volumetric) windows: convd runs 1-D and 2-D ones"},
    {"test_maxpool_3d", "3-D (volumetric) windows: convd runs 1-D and 2-D ones"},
    {"test_maxpool_2d_dilations", "dilated pooling: the pooling kernels have no dilation"},
    {"test_maxpool_with_argmax", "the Indices output: convd serves one output per graph"},
    {"test_batchnorm_epsilon_training_mode", "training mode (batch statistics, more outputs)"},
    {"test_batchnorm_example_training_mode", "training mode (batch statistics, more outputs)"},
    {"test_training_dropout", "training-mode dropout: random masks; convd serves inference"},
    {"test_dropout_default_mask", "the mask output: convd serves one output per graph"},
    {"test_dropout",
     "a graph of one identity: convd needs a computing layer (Dropout in networks is folded)"},
    {"test_identity_opt", "optional types"},
    {"test_identity_sequence", "sequence types"},
    {"test_identity",
     "a graph of one identity: convd needs a computing layer (Identity in networks is folded)"},
    {"test_constant_pad",
     "Pad with a non-zero value: convd folds Pad into the next Conv or pool as zero padding"},
    {"test_edge_pad", "edge padding (and INT32 data): convd folds only zero padding"},
    {"test_reflect_pad", "reflect padding (and INT32 data): convd folds only zero padding"},
    {"test_constant", "no data input: convd folds Constant nodes into the layers reading them"},
    {"test_flatten",
     "an axis other than 1: axis 0 merges the batch into features, later axes split an image "
     "across rows; convd keeps axis 0 as the batch"},
    {"test_gemm_all_attributes", "transA = 1: it would put the batch on axis 1"},
    {"test_gemm_transposeA", "transA = 1: it would put the batch on axis 1"},
    {"test_gemm_default_matrix_bias",
     "a bias of shape [M, N]: one bias per batch row ties the model to one batch size"},
    {"test_globalaveragepool",
     "ONNX opset 1 models (convd reads opsets 7 to 18; PyTorch exports 7 and later)"},
    {"test_globalmaxpool",
     "ONNX opset 1 models (convd reads opsets 7 to 18; PyTorch exports 7 and later)"},
    {"test_softmax",
     "an axis other than 1: convd's softmax normalises channels at each position"},
    {"test_logsoftmax",
     "an axis other than 1: convd's softmax normalises channels at each position"},
    {"test_matmul_3d", "a batched MatMul of two data tensors: convd's MatMul is a fully "
                       "connected layer with a constant 2-D weight"},
    {"test_matmul_4d", "a batched MatMul of two data tensors: convd's MatMul is a fully "
                       "connected layer with a constant 2-D weight"},
    {"test_reshape",
     "reshapes other than [N, -1]: convd's tensors are per-sample NCHW with the batch on "
     "axis 0, and these move the batch or make layouts no layer reads"},
};

std::string ReadBytes(const fs::path& path) { return ReadFile(path.string()).value_or(""); }

struct Outcome {
  enum Kind { kPassed, kFailed, kSkipped } kind;
  std::string detail;
};

std::vector<float> Floats(const onnx::TensorProto& tensor) {
  std::vector<float> values;
  if (!tensor.raw_data().empty()) {
    values.resize(tensor.raw_data().size() / 4);
    std::memcpy(values.data(), tensor.raw_data().data(), values.size() * 4);
  } else {
    values.assign(tensor.float_data().begin(), tensor.float_data().end());
  }
  return values;
}

Outcome RunCase(const fs::path& dir) {
  onnx::ModelProto model;
  if (!model.ParseFromString(ReadBytes(dir / "model.onnx"))) {
    return {Outcome::kFailed, "model.onnx does not parse"};
  }
  onnx::GraphProto& graph = *model.mutable_graph();
  const fs::path data = dir / "test_data_set_0";
  // Before IR version 4 the initializers are listed as graph inputs too.
  std::set<std::string> initializers;
  for (const auto& tensor : graph.initializer()) initializers.insert(tensor.name());
  std::vector<onnx::TensorProto> inputs;
  for (int i = 0; i < graph.input_size(); ++i) {
    if (initializers.contains(graph.input(i).name())) continue;
    const fs::path file = data / absl::StrCat("input_", inputs.size(), ".pb");
    onnx::TensorProto tensor;
    if (!fs::exists(file) || !tensor.ParseFromString(ReadBytes(file))) {
      return {Outcome::kFailed, absl::StrCat(file.filename().string(), " is missing")};
    }
    tensor.set_name(graph.input(i).name());
    inputs.push_back(std::move(tensor));
  }
  onnx::TensorProto expected;
  if (graph.output_size() != 1 || !expected.ParseFromString(ReadBytes(data / "output_0.pb"))) {
    return {Outcome::kSkipped, "more than one output"};
  }
  if (inputs.empty() || inputs[0].data_type() != onnx::TensorProto::FLOAT) {
    return {Outcome::kSkipped, "data input is not FLOAT"};
  }
  const int rank = inputs[0].dims_size();
  if (rank < 1 || rank > 4) return {Outcome::kSkipped, absl::StrCat("rank ", rank, " input")};
  // Parameters become initializers; the data input keeps its fixed shape.
  for (size_t i = 1; i < inputs.size(); ++i) *graph.add_initializer() = inputs[i];
  for (auto& graph_input : *graph.mutable_input()) {
    if (graph_input.name() != inputs[0].name()) continue;
    auto* shape = graph_input.mutable_type()->mutable_tensor_type()->mutable_shape();
    shape->clear_dim();
    for (int64_t d : inputs[0].dims()) shape->add_dim()->set_dim_value(d);
  }

  auto imported = ImportOnnx(model.SerializeAsString(), {});
  if (!imported.ok()) return {Outcome::kSkipped, std::string(imported.status().message())};
  Graph net = *std::move(imported);
  SimplifyGraph(net);
  auto plan = Plan(std::move(net), PlanOptions{});
  if (!plan.ok()) return {Outcome::kFailed, std::string(plan.status().message())};
  Executor executor(std::shared_ptr<const ExecutionPlan>(std::move(*plan)), nullptr);
  const std::vector<float> input = Floats(inputs[0]);
  Tensor output;
  const absl::Status run = executor.Run(input.data(), static_cast<int>(inputs[0].dims(0)), output);
  if (!run.ok()) return {Outcome::kFailed, std::string(run.message())};
  const std::vector<float> want = Floats(expected);
  if (static_cast<int64_t>(want.size()) != output.elements()) {
    return {Outcome::kFailed, absl::StrCat("output has ", output.elements(), " values; expected ",
                                           want.size())};
  }
  for (size_t i = 0; i < want.size(); ++i) {
    const double got = output.data()[i];
    if (!(std::abs(got - want[i]) <= kAtol + kRtol * std::abs(want[i]))) {
      return {Outcome::kFailed, absl::StrCat("value ", i, ": ", got, " vs ", want[i])};
    }
  }
  return {Outcome::kPassed, ""};
}

TEST(OnnxNodeConformanceTest, EverySupportedOperatorCase) {
  ASSERT_TRUE(fs::is_directory(kNodeTests)) << "install libonnx-testdata";
  std::map<std::string, std::array<int, 3>> per_op;  // passed, failed, skipped
  std::set<std::string> used_skips;
  int cases = 0;
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(kNodeTests)) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& dir : dirs) {
    onnx::ModelProto model;
    if (!model.ParseFromString(ReadBytes(dir / "model.onnx")) || model.graph().node_size() != 1) {
      continue;  // the *_expanded cases spell an operator out in others
    }
    const std::string op = model.graph().node(0).op_type();
    if (!kOperators.contains(op)) continue;
    ++cases;
    const std::string name = dir.filename().string();
    Outcome outcome = RunCase(dir);
    const std::string* skip_reason = nullptr;
    for (const auto& [prefix, reason] : kSkips) {
      if (name == prefix || absl::StartsWith(name, prefix + "_")) {
        skip_reason = &reason;
        if (outcome.kind != Outcome::kPassed) used_skips.insert(prefix);
        break;
      }
    }
    if (outcome.kind != Outcome::kPassed && skip_reason != nullptr) {
      outcome = {Outcome::kSkipped, *skip_reason};
    } else if (outcome.kind == Outcome::kSkipped) {
      outcome.kind = Outcome::kFailed;  // unsupported without a listed reason
    }
    per_op[op][outcome.kind]++;
    if (outcome.kind == Outcome::kFailed) ADD_FAILURE() << name << " (" << op << "): " << outcome.detail;
    if (outcome.kind != Outcome::kPassed) {
      std::printf("%-8s %s (%s): %s\n", outcome.kind == Outcome::kFailed ? "FAILED" : "skipped",
                  name.c_str(), op.c_str(), outcome.detail.c_str());
    }
  }
  std::printf("\n%-20s %7s %7s %8s\n", "operator", "passed", "failed", "skipped");
  for (const auto& [op, counts] : per_op) {
    std::printf("%-20s %7d %7d %8d\n", op.c_str(), counts[0], counts[1], counts[2]);
  }
  EXPECT_GT(cases, 100);
  for (const auto& [prefix, reason] : kSkips) {
    EXPECT_TRUE(used_skips.contains(prefix))
        << "skip '" << prefix << "' matches no unsupported case (now supported? drop it)";
  }
}

// Whole networks exported from PyTorch (tools/export_conformance_models.py):
// folding, branches, residual adds, 1-D windows and old opsets against
// PyTorch's float64 outputs. None may be skipped.
TEST(PyTorchExportConformanceTest, EveryNetworkMatchesPyTorch) {
  const fs::path root = "tests/conformance/pytorch";
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    ++cases;
    const Outcome outcome = RunCase(entry.path());
    EXPECT_EQ(outcome.kind, Outcome::kPassed)
        << entry.path().filename() << ": " << outcome.detail;
  }
  EXPECT_GE(cases, 5);
}

}  // namespace
}  // namespace convd
