#include "engine/model_config.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace convd {
namespace {

using inference::ModelConfig;

constexpr int kMaxNameLength = 128;

// Collects the text-format parser's errors so the message names the line.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) error_ = absl::StrCat("line ", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

absl::Status Invalid(const std::string& model, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("model '", model, "' config: ", what));
}

std::string DimsString(const google::protobuf::RepeatedField<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

absl::Status NormalizeInput(const std::string& model, inference::ModelInput& input) {
  if (input.name().empty()) return Invalid(model, "input needs a name");
  if (input.data_type() == inference::TYPE_INVALID) input.set_data_type(inference::TYPE_FP32);
  if (input.data_type() != inference::TYPE_FP32 && input.data_type() != inference::TYPE_UINT8) {
    return Invalid(model, absl::StrCat("input '", input.name(), "' data_type must be TYPE_FP32 or "
                                       "TYPE_UINT8; got ", inference::DataType_Name(input.data_type())));
  }
  if (input.format() == inference::ModelInput::FORMAT_NONE) {
    input.set_format(inference::ModelInput::FORMAT_NCHW);
  }
  if (input.format() != inference::ModelInput::FORMAT_NCHW) {
    return Invalid(model, absl::StrCat("input '", input.name(), "' format must be FORMAT_NCHW; got ",
                                       inference::ModelInput::Format_Name(input.format())));
  }
  if (input.dims_size() != 3 ||
      std::any_of(input.dims().begin(), input.dims().end(), [](int64_t d) { return d < 1; })) {
    return Invalid(model, absl::StrCat("input '", input.name(), "' dims must be [C, H, W] with "
                                       "positive sizes; got ", DimsString(input.dims())));
  }
  inference::ImageNormalization& norm = *input.mutable_normalization();
  if (norm.scale() == 0.0f) norm.set_scale(1.0f / 255.0f);
  if (norm.mean_size() == 0) norm.add_mean(0.0f);
  if (norm.std_size() == 0) norm.add_std(1.0f);
  const int channels = static_cast<int>(input.dims(0));
  for (const auto* values : {&norm.mean(), &norm.std()}) {
    if (values->size() != 1 && values->size() != channels) {
      return Invalid(model, absl::StrCat("input '", input.name(), "' normalization needs 1 or ",
                                         channels, " mean/std values; got ", values->size()));
    }
  }
  for (float s : norm.std()) {
    if (!(s > 0.0f)) return Invalid(model, "normalization std values must be positive");
  }
  return absl::OkStatus();
}

absl::Status NormalizeOutput(const std::string& model, inference::ModelOutput& output) {
  if (output.name().empty()) return Invalid(model, "output needs a name");
  if (output.data_type() == inference::TYPE_INVALID) output.set_data_type(inference::TYPE_FP32);
  if (output.data_type() != inference::TYPE_FP32) {
    return Invalid(model, absl::StrCat("output '", output.name(), "' data_type must be TYPE_FP32; "
                                       "got ", inference::DataType_Name(output.data_type())));
  }
  if (output.dims_size() == 0 ||
      std::any_of(output.dims().begin(), output.dims().end(), [](int64_t d) { return d < 1; })) {
    return Invalid(model, absl::StrCat("output '", output.name(), "' dims must be positive; got ",
                                       DimsString(output.dims())));
  }
  const std::string& labels = output.label_filename();
  if (!labels.empty() && !ValidateModelName(labels).ok()) {
    return Invalid(model, absl::StrCat("label_filename '", labels,
                                       "' must be a plain file name in the model directory"));
  }
  return absl::OkStatus();
}

absl::Status NormalizeBatching(const std::string& model, ModelConfig& config) {
  if (!config.has_dynamic_batching()) return absl::OkStatus();
  inference::ModelDynamicBatching& batching = *config.mutable_dynamic_batching();
  if (config.max_batch_size() == 0) {
    return Invalid(model, "dynamic_batching needs max_batch_size of at least 1");
  }
  auto& preferred = *batching.mutable_preferred_batch_size();
  std::sort(preferred.begin(), preferred.end());
  for (int size : preferred) {
    if (size < 1 || size > config.max_batch_size()) {
      return Invalid(model, absl::StrCat("preferred_batch_size ", size, " is outside [1, "
                                         "max_batch_size ", config.max_batch_size(), "]"));
    }
  }
  const uint64_t levels = batching.priority_levels();
  if (levels == 0) {
    if (batching.default_priority_level() != 0 || !batching.priority_queue_policy().empty()) {
      return Invalid(model,
                     "dynamic_batching.default_priority_level and priority_queue_policy need "
                     "priority_levels");
    }
    return absl::OkStatus();
  }
  const uint64_t default_level = batching.default_priority_level();
  if (default_level < 1 || default_level > levels) {
    return Invalid(model, absl::StrCat("dynamic_batching.default_priority_level must be in [1, "
                                       "priority_levels ",
                                       levels, "]; got ", default_level));
  }
  for (const auto& [level, policy] : batching.priority_queue_policy()) {
    if (level < 1 || level > levels) {
      return Invalid(model, absl::StrCat("dynamic_batching.priority_queue_policy names level ",
                                         level, ", outside [1, priority_levels ", levels, "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status NormalizeWarmup(const std::string& model, ModelConfig& config) {
  const inference::ModelInput& input = config.input(0);
  const int largest = std::max(1, config.max_batch_size());
  for (inference::ModelWarmup& warmup : *config.mutable_model_warmup()) {
    if (warmup.name().empty()) return Invalid(model, "model_warmup needs a name");
    auto invalid = [&](const std::string& what) {
      return Invalid(model, absl::StrCat("model_warmup '", warmup.name(), "': ", what));
    };
    if (warmup.batch_size() < 1 || warmup.batch_size() > static_cast<uint32_t>(largest)) {
      return invalid(
          absl::StrCat("batch_size must be in [1, ", largest, "]; got ", warmup.batch_size()));
    }
    if (warmup.count() == 0) warmup.set_count(1);
    if (warmup.inputs_size() != 1 || !warmup.inputs().contains(input.name())) {
      return invalid(
          absl::StrCat("inputs must hold exactly the model's input '", input.name(), "'"));
    }
    const inference::ModelWarmup::Input& data = warmup.inputs().at(input.name());
    if (data.data_type() != inference::TYPE_FP32 && data.data_type() != inference::TYPE_UINT8) {
      return invalid(absl::StrCat("data_type must be TYPE_FP32 or TYPE_UINT8; got ",
                                  inference::DataType_Name(data.data_type())));
    }
    if (!std::equal(data.dims().begin(), data.dims().end(), input.dims().begin(),
                    input.dims().end())) {
      return invalid(absl::StrCat("dims ", DimsString(data.dims()), " must be the input's ",
                                  DimsString(input.dims())));
    }
    switch (data.input_data_type_case()) {
      case inference::ModelWarmup::Input::kZeroData:
      case inference::ModelWarmup::Input::kRandomData:
        break;
      case inference::ModelWarmup::Input::kInputDataFile:
        if (!ValidateModelName(data.input_data_file()).ok()) {
          return invalid(absl::StrCat("input_data_file '", data.input_data_file(),
                                      "' must be a plain file name in the warmup folder"));
        }
        break;
      default:
        return invalid("an input needs zero_data, random_data or input_data_file");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& text) {
  ModelConfig config;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.pbtxt does not parse as a ModelConfig: ", errors.error()));
  }
  return config;
}

absl::StatusOr<ModelConfig> ParseModelConfigJson(const std::string& json) {
  ModelConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &config, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the config does not parse as a ModelConfig in JSON: ", std::string(status.message())));
  }
  return config;
}

absl::Status NormalizeModelConfig(const std::string& directory_name, ModelConfig& config) {
  RETURN_IF_ERROR(ValidateModelName(directory_name));
  if (config.name().empty()) config.set_name(directory_name);
  const std::string& model = config.name();
  if (model != directory_name) {
    return Invalid(model, absl::StrCat("name must match its directory '", directory_name, "'"));
  }
  if (config.platform().empty()) config.set_platform(kPlatformNetwork);
  if (config.platform() != kPlatformNetwork && config.platform() != kPlatformOnnx) {
    return Invalid(model, absl::StrCat("platform must be '", kPlatformNetwork, "' or '",
                                       kPlatformOnnx, "'; got '", config.platform(), "'"));
  }
  if (config.max_batch_size() < 0 || config.max_batch_size() > 4096) {
    return Invalid(model, absl::StrCat("max_batch_size must be in [0, 4096]; got ",
                                       config.max_batch_size()));
  }
  if (config.version_policy().policy_choice_case() ==
      inference::ModelVersionPolicy::POLICY_CHOICE_NOT_SET) {
    config.mutable_version_policy()->mutable_latest()->set_num_versions(1);
  }
  if (config.version_policy().has_latest() &&
      config.version_policy().latest().num_versions() == 0) {
    return Invalid(model, "version_policy.latest.num_versions must be at least 1");
  }
  if (config.input_size() != 1 || config.output_size() != 1) {
    return Invalid(model, absl::StrCat("needs exactly one input and one output; got ",
                                       config.input_size(), " and ", config.output_size()));
  }
  RETURN_IF_ERROR(NormalizeInput(model, *config.mutable_input(0)));
  RETURN_IF_ERROR(NormalizeOutput(model, *config.mutable_output(0)));
  if (config.instance_group_size() == 0) config.add_instance_group();
  for (inference::ModelInstanceGroup& group : *config.mutable_instance_group()) {
    if (group.count() == 0) group.set_count(1);
    if (group.count() < 0 || group.count() > 64) {
      return Invalid(model, absl::StrCat("instance_group count must be in [1, 64]; got ",
                                         group.count()));
    }
  }
  RETURN_IF_ERROR(NormalizeBatching(model, config));
  RETURN_IF_ERROR(NormalizeWarmup(model, config));
  RETURN_IF_ERROR(PolicyFromConfig(config.algorithm_policy()).status());
  // CUDA graphs are on unless the config turns them off (Triton's default
  // is off; the served config says which holds).
  auto& cuda = *config.mutable_optimization()->mutable_cuda();
  if (!cuda.has_graphs()) cuda.set_graphs(true);
  if (!config.has_inline_run_limit_microseconds()) {
    config.set_inline_run_limit_microseconds(kDefaultInlineRunLimitMicroseconds);
  }
  if (config.inline_run_limit_microseconds() > kMaxInlineRunLimitMicroseconds) {
    return Invalid(model, absl::StrCat("inline_run_limit_microseconds must be at most ",
                                       kMaxInlineRunLimitMicroseconds,
                                       " (a run holds the thread "
                                       "that received the request); got ",
                                       config.inline_run_limit_microseconds()));
  }
  return absl::OkStatus();
}

absl::Status ValidateConfigAgainstGraph(const ModelConfig& config, const Graph& graph) {
  const auto& dims = config.input(0).dims();
  const TensorShape& in = graph.input().output;
  if (dims[0] != in.c || dims[1] != in.h || dims[2] != in.w) {
    return Invalid(config.name(), absl::StrCat("input dims ", DimsString(dims),
                                               " do not match the network input ",
                                               in.ToString()));
  }
  const TensorShape& out = graph.output().output;
  int64_t elements = 1;
  for (int64_t d : config.output(0).dims()) elements *= d;
  if (elements != int64_t{out.c} * out.h * out.w) {
    return Invalid(config.name(), absl::StrCat("output dims ", DimsString(config.output(0).dims()),
                                               " do not match the network output ",
                                               out.ToString()));
  }
  return absl::OkStatus();
}

absl::Status ValidateModelName(const std::string& name) {
  const bool valid_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
  });
  if (name.empty() || name.size() > kMaxNameLength || name[0] == '.' || !valid_chars) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid name '", name.substr(0, kMaxNameLength),
        "': use letters, digits, '_', '-' and '.', not starting with '.', at most ",
        kMaxNameLength, " characters"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseVersion(const std::string& version) {
  int64_t value = 0;
  const bool digits = !version.empty() && version.size() <= 18 &&
                      std::all_of(version.begin(), version.end(),
                                  [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || !absl::SimpleAtoi(version, &value) || value < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid model version '", version.substr(0, 32),
                     "': a version is a positive decimal number"));
  }
  return value;
}

absl::StatusOr<AlgorithmPolicy> PolicyFromConfig(const inference::AlgorithmPolicyConfig& config) {
  AlgorithmPolicy policy;
  switch (config.mode()) {
    case inference::AlgorithmPolicyConfig::AUTOTUNE:
      policy.mode = AlgorithmPolicy::Mode::kAutotune;
      break;
    case inference::AlgorithmPolicyConfig::FORCED: {
      ASSIGN_OR_RETURN(policy, PolicyFromName(config.algorithm()));
      if (policy.mode != AlgorithmPolicy::Mode::kForced) {
        return absl::InvalidArgumentError(absl::StrCat(
            "algorithm_policy FORCED needs an algorithm name; got '", config.algorithm(), "'"));
      }
      break;
    }
    default:
      break;
  }
  for (const auto& [layer, algorithm] : config.layer_algorithm()) {
    policy.per_layer[layer] = algorithm;
  }
  if (config.autotune_budget_ms() > 0) policy.autotune_budget_ms = config.autotune_budget_ms();
  switch (config.cpu_weights()) {
    case inference::AlgorithmPolicyConfig::WEIGHTS_FP32:
      break;
    case inference::AlgorithmPolicyConfig::WEIGHTS_FP16:
      policy.cpu_weights = AlgorithmPolicy::CpuWeights::kFp16;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("algorithm_policy.cpu_weights ", config.cpu_weights(),
                       " is not WEIGHTS_FP32 or WEIGHTS_FP16"));
  }
  return policy;
}

std::string DataTypeName(inference::DataType type) {
  if (type == inference::TYPE_STRING) return "BYTES";
  const std::string& name = inference::DataType_Name(type);
  return name.rfind("TYPE_", 0) == 0 ? name.substr(5) : name;
}

const inference::ModelQueuePolicy& QueuePolicy(const inference::ModelConfig& config,
                                               uint64_t priority_level) {
  const inference::ModelDynamicBatching& batching = config.dynamic_batching();
  auto it = batching.priority_queue_policy().find(priority_level);
  return it != batching.priority_queue_policy().end() ? it->second
                                                      : batching.default_queue_policy();
}

absl::StatusOr<uint64_t> RequestPriorityLevel(const inference::ModelConfig& config,
                                              uint64_t requested) {
  const uint64_t levels = config.dynamic_batching().priority_levels();
  if (levels == 0) return 0;
  if (requested == 0) return config.dynamic_batching().default_priority_level();
  if (requested > levels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "priority ", requested, " is outside [1, priority_levels ", levels,
        "] (0 or none: the default, ", config.dynamic_batching().default_priority_level(), ")"));
  }
  return requested;
}

int InstanceCount(const ModelConfig& config) {
  int count = 0;
  for (const auto& group : config.instance_group()) count += group.count();
  return std::max(count, 1);
}

}  // namespace convd
