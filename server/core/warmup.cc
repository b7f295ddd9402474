#include "server/core/warmup.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/file_util.h"
#include "server/core/pixels.h"

namespace convd {
namespace {

namespace fs = std::filesystem;
using Input = inference::ModelWarmup::Input;

absl::Status Invalid(const inference::ModelConfig& config, const inference::ModelWarmup& warmup,
                     const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("model '", config.name(), "' model_warmup '", warmup.name(), "': ", what));
}

// One sample's values in the input's data type, as bytes.
absl::StatusOr<std::string> SampleBytes(const inference::ModelConfig& config,
                                        const inference::ModelWarmup& warmup, const Input& data,
                                        const fs::path& model_dir, int64_t elements) {
  const bool uint8 = data.data_type() == inference::TYPE_UINT8;
  const int64_t bytes = elements * (uint8 ? 1 : int64_t{sizeof(float)});
  std::string sample(static_cast<size_t>(bytes), '\0');
  switch (data.input_data_type_case()) {
    case Input::kZeroData:
      break;
    case Input::kRandomData: {
      // Seeded: a model loads the same way every time.
      std::mt19937 random(static_cast<uint32_t>(std::hash<std::string>()(warmup.name())));
      if (uint8) {
        std::uniform_int_distribution<int> pixel(0, 255);
        for (char& value : sample) value = static_cast<char>(pixel(random));
      } else {
        std::uniform_real_distribution<float> value(0.0f, 1.0f);
        for (int64_t i = 0; i < elements; ++i) {
          const float v = value(random);
          std::memcpy(sample.data() + i * sizeof(float), &v, sizeof(float));
        }
      }
      break;
    }
    case Input::kInputDataFile: {
      absl::StatusOr<std::string> contents =
          ReadFile((model_dir / "warmup" / data.input_data_file()).string());
      if (!contents.ok()) {
        return Invalid(config, warmup, absl::StrCat("cannot read warmup/", data.input_data_file()));
      }
      if (static_cast<int64_t>(contents->size()) != bytes) {
        return Invalid(config, warmup,
                       absl::StrCat("warmup/", data.input_data_file(), " has ", contents->size(),
                                    " bytes; one sample of ", elements, " ",
                                    uint8 ? "UINT8" : "FP32", " values is ", bytes));
      }
      sample = *std::move(contents);
      break;
    }
    default:
      return Invalid(config, warmup, "the input has no data");
  }
  return sample;
}

}  // namespace

absl::StatusOr<std::vector<WarmupSample>> PrepareWarmup(const inference::ModelConfig& config,
                                                        const std::string& model_dir,
                                                        int64_t input_row_elements) {
  std::vector<WarmupSample> samples;
  const inference::ModelInput& input = config.input(0);
  for (const inference::ModelWarmup& warmup : config.model_warmup()) {
    auto found = warmup.inputs().find(input.name());
    if (found == warmup.inputs().end()) {
      return Invalid(config, warmup, absl::StrCat("no data for input '", input.name(), "'"));
    }
    const Input& data = found->second;
    auto bytes = SampleBytes(config, warmup, data, model_dir, input_row_elements);
    if (!bytes.ok()) return bytes.status();
    std::vector<float> row(static_cast<size_t>(input_row_elements));
    if (data.data_type() == inference::TYPE_UINT8) {
      NormalizePixels(input, reinterpret_cast<const uint8_t*>(bytes->data()), input_row_elements,
                      row.data());
    } else {
      std::memcpy(row.data(), bytes->data(), bytes->size());  // little-endian, as the host
    }
    WarmupSample sample;
    sample.name = warmup.name();
    sample.batch = static_cast<int>(std::max<uint32_t>(1, warmup.batch_size()));
    sample.count = static_cast<int>(std::max<uint32_t>(1, warmup.count()));
    sample.input.reserve(row.size() * sample.batch);
    for (int i = 0; i < sample.batch; ++i) {
      sample.input.insert(sample.input.end(), row.begin(), row.end());
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

absl::Status RunWarmup(const std::vector<WarmupSample>& samples, InstanceRunner& runner) {
  Tensor output;
  for (const WarmupSample& sample : samples) {
    for (int run = 0; run < sample.count; ++run) {
      if (absl::Status status = runner.Run(sample.input.data(), sample.batch, output, nullptr);
          !status.ok()) {
        return absl::Status(status.code(), absl::StrCat("warmup '", sample.name, "' run ", run + 1,
                                                        ": ", status.message()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace convd
