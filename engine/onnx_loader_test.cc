// The ONNX importer refuses what it cannot serve with errors that name the
// problem, never crashes on bad bytes, and reads weights in every storage
// form ONNX allows (raw_data, typed fields, external files).
#include "engine/onnx_loader.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/executor.h"
#include "engine/file_util.h"
#include "engine/graph_passes.h"
#include "engine/planner.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/temp_dir.h"
#include "onnx/onnx_pb.h"

namespace convd {
namespace {

namespace fs = std::filesystem;
constexpr char kLenet[] = "models/lenet5/1/model.onnx";

std::string ReadBytes(const std::string& path) { return ReadFile(path).value_or(""); }

onnx::ModelProto Lenet() {
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(ReadBytes(kLenet)));
  return model;
}

absl::Status Import(const onnx::ModelProto& model, const std::string& directory = "") {
  return ImportOnnx(model.SerializeAsString(), {directory}).status();
}

std::vector<float> Forward(Graph graph, const std::vector<float>& input, int batch) {
  SimplifyGraph(graph);
  auto plan = Plan(std::move(graph), PlanOptions{});
  EXPECT_TRUE(plan.ok()) << plan.status();
  Executor executor(std::shared_ptr<const ExecutionPlan>(std::move(*plan)), nullptr);
  Tensor output;
  EXPECT_TRUE(executor.Run(input.data(), batch, output).ok());
  return std::vector<float>(output.data(), output.data() + output.elements());
}

TEST(OnnxLoaderTest, BadBytesFailCleanly) {
  for (const std::string& bytes : {std::string("not a model"), std::string(),
                                   std::string("\x08\x07\x12\xff\xff", 5)}) {
    const absl::Status status = ImportOnnx(bytes, {}).status();
    EXPECT_FALSE(status.ok());
  }
  const std::string lenet = ReadBytes(kLenet);
  // Every truncation of a real model fails with an error, never a crash.
  for (size_t length = 0; length < lenet.size(); length += 997) {
    EXPECT_FALSE(ImportOnnx(lenet.substr(0, length), {}).ok()) << "truncated to " << length;
  }
  EXPECT_EQ(LoadOnnxFile("no/such/model.onnx").status().code(), absl::StatusCode::kNotFound);
}

TEST(OnnxLoaderTest, UnsupportedOperatorIsNamedWithNodeAndOpset) {
  onnx::ModelProto model = Lenet();
  model.mutable_graph()->mutable_node(1)->set_op_type("Einsum");
  const absl::Status status = Import(model);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("node '/Relu' (Einsum, opset 13)"), std::string::npos)
      << status;
}

TEST(OnnxLoaderTest, UnsupportedOpsetIsRefused) {
  onnx::ModelProto model = Lenet();
  model.mutable_opset_import(0)->set_version(5);
  const absl::Status status = Import(model);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("opset 5 is not supported"), std::string::npos) << status;
}

TEST(OnnxLoaderTest, InconsistentWeightsAreNamed) {
  onnx::ModelProto model = Lenet();
  model.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(10);
  absl::Status status = Import(model);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("'conv1.weight' holds 10 bytes for 150 elements"),
            std::string::npos)
      << status;
  model = Lenet();
  model.mutable_graph()->mutable_initializer(0)->set_dims(1, 3);  // 3 input channels
  status = Import(model);
  EXPECT_FALSE(status.ok());

  // Found by fuzzing: a shape whose element count overflows int64 (it used
  // to wrap, then size an allocation or index past the data).
  model = Lenet();
  onnx::TensorProto& weight = *model.mutable_graph()->mutable_initializer(0);
  weight.clear_dims();
  for (int64_t d : {int64_t{1} << 31, int64_t{1} << 31, int64_t{97}}) weight.add_dims(d);
  status = Import(model);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("'conv1.weight' holds 600 bytes for 9223372036854775807"),
            std::string::npos)
      << status;
}

TEST(OnnxLoaderTest, TypedFieldsAndExternalDataGiveTheSameNetwork) {
  const onnx::ModelProto raw = Lenet();
  const std::vector<float> input = testing::RandomVector(2 * 28 * 28);
  auto reference = ImportOnnx(raw.SerializeAsString(), {});
  ASSERT_TRUE(reference.ok()) << reference.status();
  const std::vector<float> expected = Forward(*reference, input, 2);

  onnx::ModelProto typed = raw;
  for (onnx::TensorProto& tensor : *typed.mutable_graph()->mutable_initializer()) {
    const std::string bytes = tensor.raw_data();
    tensor.clear_raw_data();
    for (size_t i = 0; i < bytes.size(); i += 4) {
      float value;
      std::memcpy(&value, bytes.data() + i, 4);
      tensor.add_float_data(value);
    }
  }
  auto typed_graph = ImportOnnx(typed.SerializeAsString(), {});
  ASSERT_TRUE(typed_graph.ok()) << typed_graph.status();
  EXPECT_EQ(Forward(*typed_graph, input, 2), expected);

  const std::string dir = testing::MakeTempDir("onnx_external");
  onnx::ModelProto external = raw;
  std::ofstream data(fs::path(dir) / "weights.bin", std::ios::binary);
  int64_t offset = 0;
  for (onnx::TensorProto& tensor : *external.mutable_graph()->mutable_initializer()) {
    data << tensor.raw_data();
    const int64_t length = static_cast<int64_t>(tensor.raw_data().size());
    tensor.clear_raw_data();
    tensor.set_data_location(onnx::TensorProto::EXTERNAL);
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"location", "weights.bin"},
             {"offset", std::to_string(offset)},
             {"length", std::to_string(length)}}) {
      auto* entry = tensor.add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    }
    offset += length;
  }
  data.close();
  auto external_graph = ImportOnnx(external.SerializeAsString(), {dir});
  ASSERT_TRUE(external_graph.ok()) << external_graph.status();
  EXPECT_EQ(Forward(*external_graph, input, 2), expected);

  // External data may not leave the model directory.
  for (const char* location : {"../weights.bin", "/etc/passwd", "a/../../x"}) {
    onnx::ModelProto escaping = external;
    escaping.mutable_graph()->mutable_initializer(0)->mutable_external_data(0)->set_value(
        location);
    const absl::Status status = Import(escaping, dir);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << location;
    EXPECT_NE(status.message().find("inside the model directory"), std::string::npos) << status;
  }
  EXPECT_FALSE(Import(external, "").ok()) << "no directory: external data refused";

  // Bad numbers and ranges are errors, not exceptions.
  onnx::ModelProto bad_offset = external;
  bad_offset.mutable_graph()->mutable_initializer(0)->mutable_external_data(1)->set_value("abc");
  absl::Status status = Import(bad_offset, dir);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("offset 'abc' is not a number"), std::string::npos) << status;
  onnx::ModelProto bad_range = external;
  bad_range.mutable_graph()->mutable_initializer(0)->mutable_external_data(1)->set_value(
      std::to_string(offset));  // starts at the end of the file
  status = Import(bad_range, dir);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("is outside"), std::string::npos) << status;
}

TEST(OnnxLoaderTest, DynamicBatchAndSecondDataInput) {
  onnx::ModelProto model = Lenet();
  EXPECT_EQ(model.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  auto graph = ImportOnnx(model.SerializeAsString(), {});
  ASSERT_TRUE(graph.ok());
  const std::vector<float> input = testing::RandomVector(5 * 28 * 28);
  EXPECT_EQ(Forward(*graph, input, 5).size(), 50u);  // any batch size runs

  *model.mutable_graph()->add_input() = model.graph().input(0);
  model.mutable_graph()->mutable_input(1)->set_name("second");
  const absl::Status status = Import(model);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("more than one data input"), std::string::npos) << status;
}

TEST(OnnxLoaderTest, ConvAutoPadSameOnTheGraphInput) {
  // ONNX's own case (libonnx-testdata): a single Conv, auto_pad SAME_LOWER,
  // stride 2, reading the graph input directly. Its weight input becomes a
  // constant, as in an exported model.
  const fs::path dir = "/usr/share/libonnx-testdata/data/node/test_conv_with_autopad_same";
  ASSERT_TRUE(fs::is_directory(dir)) << "install libonnx-testdata";
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(ReadBytes((dir / "model.onnx").string())));
  onnx::TensorProto x, w, y;
  ASSERT_TRUE(x.ParseFromString(ReadBytes((dir / "test_data_set_0/input_0.pb").string())));
  ASSERT_TRUE(w.ParseFromString(ReadBytes((dir / "test_data_set_0/input_1.pb").string())));
  ASSERT_TRUE(y.ParseFromString(ReadBytes((dir / "test_data_set_0/output_0.pb").string())));
  w.set_name(model.graph().input(1).name());
  *model.mutable_graph()->add_initializer() = w;
  auto graph = ImportOnnx(model.SerializeAsString(), {});
  ASSERT_TRUE(graph.ok()) << graph.status();
  std::vector<float> input(x.raw_data().size() / 4), expected(y.raw_data().size() / 4);
  std::memcpy(input.data(), x.raw_data().data(), x.raw_data().size());
  std::memcpy(expected.data(), y.raw_data().data(), y.raw_data().size());
  const std::vector<float> output = Forward(*graph, input, static_cast<int>(x.dims(0)));
  ASSERT_EQ(output.size(), expected.size());
  for (size_t i = 0; i < output.size(); ++i) EXPECT_NEAR(output[i], expected[i], 1e-5) << i;
}

// x [N, 1, 4, 4] -> (Relu) -> Pad by 1 -> MaxPool 2x2: the padding zeros
// win the max wherever x < 0, which pooling padding cannot express.
onnx::ModelProto PadThenMaxPool(bool relu_first) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(13);
  onnx::GraphProto& graph = *model.mutable_graph();
  onnx::ValueInfoProto& x = *graph.add_input();
  x.set_name("x");
  x.mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = x.mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (int d : {1, 4, 4}) shape->add_dim()->set_dim_value(d);
  onnx::TensorProto& pads = *graph.add_initializer();
  pads.set_name("pads");
  pads.set_data_type(onnx::TensorProto::INT64);
  pads.add_dims(8);
  for (int p : {0, 0, 1, 1, 0, 0, 1, 1}) pads.add_int64_data(p);
  std::string value = "x";
  if (relu_first) {
    onnx::NodeProto& relu = *graph.add_node();
    relu.set_op_type("Relu");
    relu.add_input("x");
    relu.add_output(value = "r");
  }
  onnx::NodeProto& pad = *graph.add_node();
  pad.set_op_type("Pad");
  pad.add_input(value);
  pad.add_input("pads");
  pad.add_output("p");
  onnx::NodeProto& pool = *graph.add_node();
  pool.set_op_type("MaxPool");
  pool.set_name("pool");
  pool.add_input("p");
  pool.add_output("y");
  onnx::AttributeProto& kernel = *pool.add_attribute();
  kernel.set_name("kernel_shape");
  kernel.set_type(onnx::AttributeProto::INTS);
  kernel.add_ints(2);
  kernel.add_ints(2);
  graph.add_output()->set_name("y");
  return model;
}

TEST(OnnxLoaderTest, FoldingIntoAProducerWithAWrongSizedBiasIsRefused) {
  // Found by fuzzing: a Mul by a constant folded into a Conv whose bias
  // initializer has the wrong size scaled past the bias's end.
  onnx::ModelProto model = Lenet();
  onnx::GraphProto& graph = *model.mutable_graph();
  const onnx::NodeProto conv = graph.node(0);
  ASSERT_EQ(conv.op_type(), "Conv");
  for (auto& tensor : *graph.mutable_initializer()) {
    if (tensor.name() == conv.input(2)) {  // 6 values -> 3
      tensor.set_dims(0, 3);
      tensor.mutable_raw_data()->resize(12);
    }
  }
  onnx::TensorProto& scale = *graph.add_initializer();
  scale.set_name("scale");
  scale.set_data_type(onnx::TensorProto::FLOAT);
  scale.add_float_data(2.0f);
  const std::string conv_output = conv.output(0);
  for (auto& node : *graph.mutable_node()) {
    for (auto& input : *node.mutable_input()) {
      if (input == conv_output) input = "scaled";
    }
  }
  onnx::NodeProto mul;
  mul.set_op_type("Mul");
  mul.add_input(conv_output);
  mul.add_input("scale");
  mul.add_output("scaled");
  graph.mutable_node()->Add(std::move(mul));
  // Move the Mul right after the Conv, keeping topological order.
  for (int i = graph.node_size() - 1; i > 1; --i) graph.mutable_node()->SwapElements(i, i - 1);
  const absl::Status status = Import(model);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("has 3 values for 6 outputs"), std::string::npos) << status;
}

TEST(OnnxLoaderTest, ANodeWithoutOutputsIsRefused) {
  // Found by the fuzzer: Pad (and Identity, Flatten, ...) read output(0).
  for (const char* op : {"Pad", "Identity", "Relu", "MaxPool"}) {
    onnx::ModelProto model = PadThenMaxPool(/*relu_first=*/false);
    onnx::NodeProto& node = *model.mutable_graph()->mutable_node(0);
    node.set_op_type(op);
    node.clear_output();
    const absl::Status status = Import(model);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << op << ": " << status;
    EXPECT_NE(status.message().find("has no output"), std::string::npos) << status;
  }
}

TEST(OnnxLoaderTest, PadFoldsIntoMaxPoolOnlyAfterNonNegativeLayers) {
  const absl::Status refused = Import(PadThenMaxPool(/*relu_first=*/false));
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(refused.message().find("a Pad before MaxPool whose input may be negative"),
            std::string::npos)
      << refused;

  auto graph = ImportOnnx(PadThenMaxPool(/*relu_first=*/true).SerializeAsString(), {});
  ASSERT_TRUE(graph.ok()) << graph.status();
  const std::vector<float> input = testing::RandomVector(2 * 16, -1, 1);
  const std::vector<float> output = Forward(*graph, input, 2);
  ASSERT_EQ(output.size(), 2u * 5 * 5);
  // Corner windows hold one input value and three padding zeros.
  EXPECT_EQ(output[0], std::max(0.0f, input[0]));
  EXPECT_EQ(output[24], std::max(0.0f, input[15]));
}

}  // namespace
}  // namespace convd
