// Bad network definitions and weight files fail with errors that name the
// layer and the numbers, and never crash.
#include <string>

#include "engine/network_loader.h"
#include "engine/safetensors.h"
#include "engine/weights.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"

namespace convd {
namespace {

std::string LoadError(const std::string& layers, const std::string& input =
                                                     "input { channels: 3 height: 8 width: 8 }") {
  auto definition = ParseNetworkDef(input + layers);
  if (!definition.ok()) return std::string(definition.status().message());
  auto graph = GraphFromNetworkDef(*definition);
  return graph.ok() ? "" : std::string(graph.status().message());
}

TEST(NetworkLoaderTest, RejectsBadDefinitionsNamingLayerAndNumbers) {
  EXPECT_EQ(LoadError("layer { name: 'c' convolution { num_output: -4 kernel: 3 } }"),
            "layer 'c' (convolution): num_output must be positive; got -4");
  EXPECT_EQ(LoadError("layer { name: 'c' convolution { num_output: 4 kernel: 3 pad: -1 } }"),
            "layer 'c' (convolution): pad top must not be negative; got -1 (input [1, 3, 8, 8])");
  EXPECT_EQ(LoadError("layer { name: 'c' convolution { num_output: 4 kernel: 3 groups: 2 } }"),
            "layer 'c' (convolution): input channels (3) and output channels (4) must both be "
            "divisible by groups (2) (input [1, 3, 8, 8])");
  EXPECT_EQ(LoadError("layer { name: 'c' convolution { num_output: 4 kernel: 9 } }"),
            "layer 'c' (convolution): kernel extent 9x9 (kernel 9x9, dilation 1x1) exceeds the "
            "padded input 8x8 (input [1, 3, 8, 8])");
  EXPECT_EQ(LoadError("layer { name: 'c' convolution { num_output: 4 kernel: [3, 3, 3] } }"),
            "layer 'c': kernel takes 1 or 2 values; got 3");
  EXPECT_EQ(LoadError("layer { name: 'a' convolution { num_output: 4 kernel: 3 } }"
                      "layer { name: 's' input: 'a' input: 'input' add {} }"),
            "layer 's' (add): inputs must have equal shapes; 'a' is [1, 4, 6, 6] but 'input' "
            "is [1, 3, 8, 8]");
  EXPECT_EQ(LoadError("layer { name: 'p' pooling { kernel: 2 } }"
                      "layer { name: 'j' input: 'p' input: 'input' concat {} }"),
            "layer 'j' (concat): inputs must have equal height and width; 'p' is "
            "[1, 3, 4, 4] but 'input' is [1, 3, 8, 8]");
  EXPECT_EQ(LoadError("layer { name: 'x' input: 'nowhere' activation {} }"),
            "layer 'x': input 'nowhere' is not an earlier layer");
  EXPECT_EQ(LoadError("layer { name: 'x' activation {} } layer { name: 'x' activation {} }"),
            "layer 'x': duplicate layer name");
  EXPECT_EQ(LoadError("layer { name: 'x' }"),
            "layer 'x': no layer kind set (convolution, pooling, ...)");
  EXPECT_EQ(LoadError("layer { name: 'x' activation {} }", "input { channels: 0 height: 8 width: 8 }"),
            "input 'input' needs positive channels, height and width; got 0x8x8");
  EXPECT_EQ(LoadError(""), "graph has no layers besides its input");
  EXPECT_EQ(LoadError("layer { name: 'p' pooling { kernel: 3 pad: 3 } }"),
            "layer 'p' (pooling): pads (3,3,3,3) must be smaller than the kernel 3x3 "
            "(input [1, 3, 8, 8])");
  EXPECT_EQ(LoadError("layer { name: 'n' lrn { size: 0 } }"),
            "layer 'n' (lrn): size must be positive; got 0");
  EXPECT_EQ(LoadError("layer { name: 'f' fully_connected { num_output: 0 } }"),
            "layer 'f' (fully_connected): num_output must be positive; got 0");
  EXPECT_NE(LoadError("layer { name: 'x' convolution { num_outputs: 3 } }")
                .find("network definition does not parse: 1:"),
            std::string::npos);
}

Graph TwoLayerGraph() {
  auto definition = ParseNetworkDef(R"pb(
    input { channels: 2 height: 5 width: 5 }
    layer { name: "conv" convolution { num_output: 3 kernel: 3 } }
    layer { name: "fc" fully_connected { num_output: 4 bias: false } }
  )pb");
  return *GraphFromNetworkDef(*definition);
}

TEST(WeightsTest, AttachesMatchingTensorsAndNamesEveryMismatch) {
  Graph graph = TwoLayerGraph();
  TensorMap tensors;
  tensors["conv.weight"] = {"F32", {3, 2, 3, 3}, testing::RandomVector(54)};
  tensors["conv.bias"] = {"F32", {3}, testing::RandomVector(3)};
  tensors["fc.weight"] = {"F32", {4, 27}, testing::RandomVector(108)};
  ASSERT_TRUE(AttachWeights(tensors, graph).ok());
  EXPECT_EQ(graph.layers[1].weight, tensors["conv.weight"].values);

  TensorMap missing = tensors;
  missing.erase("conv.bias");
  EXPECT_EQ(AttachWeights(missing, graph).message(),
            "layer 'conv': weights file has no tensor 'conv.bias' (expected shape [3])");
  TensorMap wrong_shape = tensors;
  wrong_shape["fc.weight"].shape = {27, 4};
  EXPECT_EQ(AttachWeights(wrong_shape, graph).message(),
            "layer 'fc': tensor 'fc.weight' has shape [27, 4]; expected [4, 27]");
  TensorMap wrong_type = tensors;
  wrong_type["conv.bias"].dtype = "F16";
  EXPECT_EQ(AttachWeights(wrong_type, graph).message(),
            "layer 'conv': tensor 'conv.bias' has dtype F16; convd reads F32");
}

TEST(WeightsTest, HeInitIsDeterministicAndScaled) {
  Graph a = TwoLayerGraph(), b = TwoLayerGraph();
  InitializeHeWeights(7, a);
  InitializeHeWeights(7, b);
  EXPECT_EQ(a.layers[1].weight, b.layers[1].weight);
  InitializeHeWeights(8, b);
  EXPECT_NE(a.layers[1].weight, b.layers[1].weight);
  // fc: fan_in 27, stddev sqrt(2/27) = 0.27; 108 samples land near it.
  double sum_squares = 0;
  for (float v : a.layers[2].weight) sum_squares += v * v;
  const double stddev = std::sqrt(sum_squares / a.layers[2].weight.size());
  EXPECT_NEAR(stddev, std::sqrt(2.0 / 27), 0.08);
  EXPECT_EQ(a.layers[1].bias, std::vector<float>(3, 0.0f));
}

TEST(SafetensorsTest, RoundTripsAndRejectsCorruptFiles) {
  TensorMap tensors;
  tensors["a"] = {"F32", {2, 3}, testing::RandomVector(6)};
  tensors["b"] = {"F32", {0}, {}};
  tensors["c"] = {"F32", {}, testing::RandomVector(1)};
  const std::string bytes = SerializeSafetensors(tensors);
  auto parsed = ParseSafetensors(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)["a"].values, tensors["a"].values);
  EXPECT_EQ((*parsed)["c"].shape, std::vector<int64_t>{});

  EXPECT_EQ(ParseSafetensors("abc").status().message(),
            "safetensors: file is 3 bytes; too short for the 8-byte header length");
  // Every truncation fails cleanly.
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(ParseSafetensors(bytes.substr(0, size)).ok()) << "truncated to " << size;
  }
  std::string huge_header = bytes;
  huge_header[7] = 0x7f;
  EXPECT_NE(ParseSafetensors(huge_header).status().message().find("exceeds the file"),
            std::string::npos);
  auto with_header = [](const std::string& json, size_t data_bytes) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(uint64_t{json.size()} >> (8 * i));
    return out + json + std::string(data_bytes, '\0');
  };
  EXPECT_EQ(ParseSafetensors(with_header("[1,2]", 0)).status().message(),
            "safetensors: header is not a JSON object");
  EXPECT_EQ(ParseSafetensors(with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8))
                .status().message(),
            "safetensors: tensor 'w': data_offsets span 4 bytes but shape needs 8");
  EXPECT_EQ(ParseSafetensors(with_header(R"({"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", 4))
                .status().message(),
            "safetensors: tensor 'w': unknown dtype 'Q4'");
  EXPECT_EQ(ParseSafetensors(with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4))
                .status().message(),
            "safetensors: tensor 'w': shape entries must be non-negative integers");
  EXPECT_EQ(ParseSafetensors(with_header(R"({"u":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                         R"("v":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12))
                .status().message(),
            "safetensors: tensor data ranges overlap");
}

}  // namespace
}  // namespace convd
