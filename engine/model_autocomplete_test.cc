#include "engine/model_autocomplete.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "engine/model_config.h"
#include "engine/model_loader.h"
#include "gtest/gtest.h"
#include "kernels/testing/temp_dir.h"

namespace convd {
namespace {

namespace fs = std::filesystem;

// A model directory holding version 1 with the bundled LeNet-5's files
// named (network.pbtxt, weights.safetensors, model.onnx), and `config`
// as config.pbtxt unless it is null.
std::string MakeModel(const std::string& name, const std::vector<std::string>& files,
                      const char* config = nullptr) {
  const fs::path dir = fs::path(testing::MakeTempDir("autocomplete")) / name;
  fs::create_directories(dir / "1");
  for (const std::string& file : files) {
    fs::copy_file(fs::path("models/lenet5/1") / file, dir / "1" / file);
  }
  if (config != nullptr) std::ofstream(dir / "config.pbtxt") << config;
  return dir.string();
}

std::vector<int64_t> Dims(const google::protobuf::RepeatedField<int64_t>& dims) {
  return {dims.begin(), dims.end()};
}

TEST(AutoCompleteTest, ANetworkDefinitionWithoutConfigGetsTritonsBatchingDefaults) {
  const std::string dir = MakeModel("plain", {"network.pbtxt", "weights.safetensors"});
  absl::StatusOr<inference::ModelConfig> config = ReadModelConfig(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->name(), "plain");
  EXPECT_EQ(config->platform(), kPlatformNetwork);
  EXPECT_EQ(config->max_batch_size(), kAutoCompleteMaxBatchSize);
  EXPECT_TRUE(config->has_dynamic_batching());
  ASSERT_EQ(config->input_size(), 1);
  EXPECT_EQ(config->input(0).name(), "input");
  EXPECT_EQ(config->input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(Dims(config->input(0).dims()), (std::vector<int64_t>{1, 28, 28}));
  ASSERT_EQ(config->output_size(), 1);
  EXPECT_EQ(config->output(0).name(), "prob");  // the last layer
  EXPECT_EQ(Dims(config->output(0).dims()), (std::vector<int64_t>{10}));
  // It loads and runs as a written config would.
  absl::StatusOr<LoadedModel> loaded = LoadModel(dir, LoadOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->generated_weights);
}

TEST(AutoCompleteTest, AnOnnxFileAloneIsAnOnnxModelNamedAsItsTensors) {
  const std::string dir = MakeModel("dropped", {"model.onnx"});
  EXPECT_TRUE(IsModelDirectory(dir, true));
  EXPECT_FALSE(IsModelDirectory(dir, false));
  absl::StatusOr<inference::ModelConfig> config = ReadModelConfig(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->platform(), kPlatformOnnx);
  EXPECT_EQ(config->input(0).name(), "input");  // as tools/train_lenet5.py exported them
  EXPECT_EQ(config->output(0).name(), "prob");
  EXPECT_EQ(Dims(config->input(0).dims()), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(Dims(config->output(0).dims()), (std::vector<int64_t>{10}));
  EXPECT_TRUE(LoadModel(dir, LoadOptions{}).ok());
}

TEST(AutoCompleteTest, BothFilesMeanTheNetworkDefinitionUnlessThePlatformSaysOtherwise) {
  const std::string both = MakeModel("both", {"network.pbtxt", "model.onnx"});
  EXPECT_EQ(ReadModelConfig(both)->platform(), kPlatformNetwork);
  const std::string onnx =
      MakeModel("both_onnx", {"network.pbtxt", "model.onnx"}, "platform: \"onnx\"");
  EXPECT_EQ(ReadModelConfig(onnx)->platform(), kPlatformOnnx);
}

TEST(AutoCompleteTest, APartialConfigKeepsWhatItSaysAndGetsTheRest) {
  const std::string dir = MakeModel("partial", {"model.onnx"}, R"pb(
    max_batch_size: 16
    input { name: "images" }
    output {
      name: "classes"
      dims: [ 10 ]
      label_filename: "labels.txt"
    }
  )pb");
  absl::StatusOr<inference::ModelConfig> config = ReadModelConfig(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->max_batch_size(), 16);
  EXPECT_FALSE(config->has_dynamic_batching());  // a written config's choice
  EXPECT_EQ(config->input(0).name(), "images");
  EXPECT_EQ(Dims(config->input(0).dims()), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(config->output(0).name(), "classes");
  EXPECT_EQ(config->output(0).label_filename(), "labels.txt");

  // max_batch_size as written, 0 included.
  const std::string unbatched = MakeModel("unbatched", {"network.pbtxt"}, "max_batch_size: 0");
  EXPECT_EQ(ReadModelConfig(unbatched)->max_batch_size(), 0);
}

TEST(AutoCompleteTest, AnOutputWithPlanesKeepsThem) {
  const fs::path dir = fs::path(testing::MakeTempDir("autocomplete_planes")) / "features";
  fs::create_directories(dir / "1");
  std::ofstream(dir / "1" / "network.pbtxt") << R"pb(
    input { name: "x" channels: 3 height: 9 width: 7 }
    layer {
      name: "features"
      convolution { num_output: 4 kernel: 3 }
    }
  )pb";
  absl::StatusOr<inference::ModelConfig> config = ReadModelConfig(dir.string());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->input(0).name(), "x");
  EXPECT_EQ(Dims(config->input(0).dims()), (std::vector<int64_t>{3, 9, 7}));
  EXPECT_EQ(config->output(0).name(), "features");
  EXPECT_EQ(Dims(config->output(0).dims()), (std::vector<int64_t>{4, 7, 5}));
}

TEST(AutoCompleteTest, TheNewestVersionIsTheOneRead) {
  const std::string dir = MakeModel("versions", {"network.pbtxt"});
  fs::create_directories(fs::path(dir) / "2");
  std::ofstream(fs::path(dir) / "2" / "network.pbtxt") << R"pb(
    input { name: "pixels" channels: 1 height: 28 width: 28 }
    layer {
      name: "scores"
      fully_connected { num_output: 3 }
    }
  )pb";
  absl::StatusOr<inference::ModelConfig> config = ReadModelConfig(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->input(0).name(), "pixels");
  EXPECT_EQ(config->output(0).name(), "scores");
  EXPECT_EQ(Dims(config->output(0).dims()), (std::vector<int64_t>{3}));
}

TEST(AutoCompleteTest, OffItNeedsAWholeConfig) {
  const std::string none = MakeModel("none", {"network.pbtxt"});
  EXPECT_FALSE(IsModelDirectory(none, false));
  absl::StatusOr<inference::ModelConfig> missing = ReadModelConfig(none, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "config.pbtxt")) << missing.status();

  const std::string partial = MakeModel("partial_off", {"network.pbtxt"}, "max_batch_size: 8");
  absl::StatusOr<inference::ModelConfig> incomplete = ReadModelConfig(partial, false);
  ASSERT_FALSE(incomplete.ok());
  EXPECT_TRUE(absl::StrContains(incomplete.status().message(), "exactly one input and one output"))
      << incomplete.status();
}

TEST(AutoCompleteTest, WhatIsNotAModelStaysUnrecognised) {
  const fs::path root = testing::MakeTempDir("autocomplete_not_models");
  fs::create_directories(root / "empty");
  fs::create_directories(root / "empty_version" / "1");
  fs::create_directories(root / "not_numbered" / "latest");
  std::ofstream(root / "not_numbered" / "latest" / "model.onnx") << "x";
  for (const char* name : {"empty", "empty_version", "not_numbered"}) {
    EXPECT_FALSE(IsModelDirectory((root / name).string(), true)) << name;
  }
  // A broken ONNX file is a model, and reading its config says what is wrong.
  fs::create_directories(root / "broken" / "1");
  std::ofstream(root / "broken" / "1" / "model.onnx") << "not protobuf";
  EXPECT_TRUE(IsModelDirectory((root / "broken").string(), true));
  absl::StatusOr<inference::ModelConfig> config = ReadModelConfig((root / "broken").string());
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(absl::StrContains(config.status().message(), "model.onnx")) << config.status();
}

}  // namespace
}  // namespace convd
