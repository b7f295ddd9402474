// model_warmup: the config's checks (engine/model_config.cc) and the
// samples' data (zeros, seeded random values, files, UINT8 normalized as
// requests' pixels). ServedModel's running of them: served_model_test.
#include "server/core/warmup.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "engine/model_config.h"
#include "gtest/gtest.h"
#include "kernels/testing/temp_dir.h"

namespace convd {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kRow = 3 * 4 * 5;

absl::StatusOr<inference::ModelConfig> Config(const std::string& warmup, int max_batch_size = 8) {
  constexpr char kModel[] = R"pb(
    input {
      name: "image"
      dims: [3, 4, 5]
      normalization { scale: 0.5 mean: [1, 2, 3] std: [2, 4, 8] }
    }
    output { name: "scores" dims: [10] }
  )pb";
  auto config =
      ParseModelConfig(absl::StrCat(kModel, "max_batch_size: ", max_batch_size, "\n", warmup));
  if (!config.ok()) return config.status();
  if (absl::Status status = NormalizeModelConfig("model", *config); !status.ok()) return status;
  return config;
}

std::string Warmup(const std::string& name, int batch, const std::string& input) {
  return absl::StrCat("model_warmup { name: '", name, "' batch_size: ", batch,
                      " inputs { key: 'image' value { ", input, " } } }");
}

TEST(WarmupConfigTest, EveryMistakeIsRefusedByName) {
  const struct {
    std::string warmup;
    std::string message;
  } cases[] = {
      {Warmup("", 1, "data_type: TYPE_FP32 dims: [3, 4, 5] zero_data: true"),
       "model_warmup needs a name"},
      {Warmup("w", 0, "data_type: TYPE_FP32 dims: [3, 4, 5] zero_data: true"),
       "model_warmup 'w': batch_size must be in [1, 8]; got 0"},
      {Warmup("w", 9, "data_type: TYPE_FP32 dims: [3, 4, 5] zero_data: true"),
       "batch_size must be in [1, 8]; got 9"},
      {"model_warmup { name: 'w' batch_size: 1 inputs { key: 'pixels' value { "
       "data_type: TYPE_FP32 dims: [3, 4, 5] zero_data: true } } }",
       "inputs must hold exactly the model's input 'image'"},
      {Warmup("w", 1, "data_type: TYPE_FP16 dims: [3, 4, 5] zero_data: true"),
       "data_type must be TYPE_FP32 or TYPE_UINT8; got TYPE_FP16"},
      {Warmup("w", 1, "data_type: TYPE_FP32 dims: [3, 5, 4] zero_data: true"),
       "dims [3, 5, 4] must be the input's [3, 4, 5]"},
      {Warmup("w", 1, "data_type: TYPE_FP32 dims: [3, 4, 5]"),
       "an input needs zero_data, random_data or input_data_file"},
      {Warmup("w", 1, "data_type: TYPE_FP32 dims: [3, 4, 5] input_data_file: '../x.bin'"),
       "input_data_file '../x.bin' must be a plain file name in the warmup folder"},
  };
  for (const auto& c : cases) {
    auto config = Config(c.warmup);
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.warmup;
    EXPECT_NE(config.status().message().find(c.message), std::string::npos)
        << config.status() << "\nwanted: " << c.message;
  }
  // A model that does not batch warms up with batch_size 1.
  EXPECT_TRUE(Config(Warmup("w", 1, "data_type: TYPE_FP32 dims: [3, 4, 5] zero_data: true"),
                     /*max_batch_size=*/0)
                  .ok());
  EXPECT_FALSE(Config(Warmup("w", 2, "data_type: TYPE_FP32 dims: [3, 4, 5] zero_data: true"),
                      /*max_batch_size=*/0)
                   .ok());
}

TEST(WarmupTest, SamplesHoldTheBatchOfTheirData) {
  const std::string dir = testing::MakeTempDir("warmup");
  fs::create_directories(fs::path(dir) / "warmup");
  std::string pixels(kRow, '\0');
  for (int i = 0; i < kRow; ++i) pixels[i] = static_cast<char>(i * 4);
  std::ofstream(fs::path(dir) / "warmup" / "pixels.bin", std::ios::binary) << pixels;
  auto config = Config(
      Warmup("zeros", 2, "data_type: TYPE_FP32 dims: [3, 4, 5] zero_data: true") +
      Warmup("random", 3, "data_type: TYPE_FP32 dims: [3, 4, 5] random_data: true") +
      Warmup("file", 1, "data_type: TYPE_UINT8 dims: [3, 4, 5] input_data_file: 'pixels.bin'") +
      "model_warmup { name: 'twice' batch_size: 1 count: 2 inputs { key: 'image' value { "
      "data_type: TYPE_UINT8 dims: [3, 4, 5] random_data: true } } }");
  ASSERT_TRUE(config.ok()) << config.status();
  auto samples = PrepareWarmup(*config, dir, kRow);
  ASSERT_TRUE(samples.ok()) << samples.status();
  ASSERT_EQ(samples->size(), 4u);

  const WarmupSample& zeros = (*samples)[0];
  EXPECT_EQ(zeros.name, "zeros");
  EXPECT_EQ(zeros.batch, 2);
  EXPECT_EQ(zeros.count, 1);
  EXPECT_EQ(zeros.input, std::vector<float>(2 * kRow, 0.0f));

  const WarmupSample& random = (*samples)[1];
  ASSERT_EQ(random.input.size(), 3u * kRow);
  std::set<float> distinct(random.input.begin(), random.input.end());
  EXPECT_GT(distinct.size(), kRow / 2u);
  for (float v : random.input) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LT(v, 1.0f);
  }
  // The same load makes the same sample.
  EXPECT_EQ(PrepareWarmup(*config, dir, kRow)->at(1).input, random.input);

  // UINT8 pixels normalized as requests' are: (p * 0.5 - mean[c]) / std[c].
  const WarmupSample& file = (*samples)[2];
  ASSERT_EQ(file.input.size(), static_cast<size_t>(kRow));
  const float mean[] = {1, 2, 3}, std[] = {2, 4, 8};
  for (int i = 0; i < kRow; ++i) {
    const int c = i / 20;
    EXPECT_FLOAT_EQ(file.input[i], (i * 4 * 0.5f - mean[c]) / std[c]) << i;
  }
  EXPECT_EQ((*samples)[3].count, 2);
}

TEST(WarmupTest, AMissingFileIsNamed) {
  auto config = Config(
      Warmup("file", 1, "data_type: TYPE_FP32 dims: [3, 4, 5] input_data_file: 'absent.bin'"));
  ASSERT_TRUE(config.ok()) << config.status();
  auto samples = PrepareWarmup(*config, testing::MakeTempDir("warmup_absent"), kRow);
  EXPECT_EQ(samples.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(samples.status().message().find(
                "model 'model' model_warmup 'file': cannot read warmup/absent.bin"),
            std::string::npos)
      << samples.status();
}

}  // namespace
}  // namespace convd
