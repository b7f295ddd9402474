// convctl infer and classify: build the request from a .npy file, random
// values or image files, send it, print the top classes (and with --stats
// the server's per-layer table of the forward pass that ran it).
#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/convctl.h"
#include "client/npy.h"
#include "client/random_tensor.h"
#include "client/text_table.h"
#include "engine/file_util.h"
#include "engine/stats.h"
#include "nlohmann/json.hpp"
#include "server/core/bytes_tensor.h"
#include "server/core/classification.h"

namespace convd::client {
namespace {

using TensorMetadata = inference::ModelMetadataResponse::TensorMetadata;

absl::StatusOr<inference::ModelMetadataResponse> SingleInputMetadata(
    Client& client, const std::string& model, const ConvctlOptions& options) {
  auto metadata = client.ModelMetadata(model, options.model_version);
  if (!metadata.ok()) return metadata.status();
  if (metadata->inputs_size() != 1 || metadata->outputs_size() < 1) {
    return absl::UnimplementedError(absl::StrCat(
        "convctl sends one input; model '", model, "' has ", metadata->inputs_size()));
  }
  return metadata;
}

// The request parameters the options ask for (--stats, --priority).
void SetRequestParameters(const ConvctlOptions& options, inference::ModelInferRequest& request) {
  if (options.layer_stats) (*request.mutable_parameters())["layer_stats"].set_bool_param(true);
  if (options.priority > 0) {
    (*request.mutable_parameters())["priority"].set_uint64_param(options.priority);
  }
}

// The response's layer_stats parameter as the engine's table, or as JSON.
absl::Status AppendLayerStats(const inference::ModelInferResponse& response,
                              const ConvctlOptions& options, std::ostream& out,
                              nlohmann::json* json) {
  auto it = response.parameters().find("layer_stats");
  if (it == response.parameters().end()) {
    return absl::InternalError("the server returned no layer_stats parameter");
  }
  if (json != nullptr) {
    (*json)["layer_stats"] = nlohmann::json::parse(it->second.string_param(), nullptr, false);
    return absl::OkStatus();
  }
  auto stats = ModelStatsFromJson(it->second.string_param());
  if (!stats.ok()) return stats.status();
  out << "\n" << stats->ToTable();
  return absl::OkStatus();
}

}  // namespace

absl::Status Infer(Client& client, const std::string& model, const ConvctlOptions& options,
                   std::ostream& out) {
  if (options.input_npy.empty() == !options.random_input) {
    return absl::InvalidArgumentError("infer needs exactly one of --input FILE.npy or --random");
  }
  auto metadata = SingleInputMetadata(client, model, options);
  if (!metadata.ok()) return metadata.status();
  const TensorMetadata& input = metadata->inputs(0);
  absl::StatusOr<NpyArray> array;
  if (options.random_input) {
    if (options.batch < 1) return absl::InvalidArgumentError("--batch must be at least 1");
    array = RandomTensor(input.datatype(), {input.shape().begin(), input.shape().end()},
                         options.batch);
  } else {
    array = ReadNpy(options.input_npy);
    // One sample without its batch dimension gets one.
    if (array.ok() && input.shape_size() > 0 && input.shape(0) < 0 &&
        static_cast<int>(array->shape.size()) == input.shape_size() - 1) {
      array->shape.insert(array->shape.begin(), 1);
    }
  }
  if (!array.ok()) return array.status();
  // The datatype goes as the file has it: the server takes UINT8 pixels for
  // FP32 inputs and names any other mismatch.
  inference::ModelInferRequest request;
  request.set_model_name(model);
  request.set_model_version(options.model_version);
  AddInput(input.name(), *std::move(array), request);
  SetRequestParameters(options, request);
  auto response = client.Infer(request);
  if (!response.ok()) return response.status();
  if (response->outputs_size() == 0 ||
      response->raw_output_contents_size() != response->outputs_size()) {
    return absl::InternalError(absl::StrCat("the server answered with ", response->outputs_size(),
                                            " outputs and ", response->raw_output_contents_size(),
                                            " output buffers"));
  }

  if (!options.output_npy.empty()) {
    const auto& output = response->outputs(0);
    NpyArray result{output.datatype(), {output.shape().begin(), output.shape().end()},
                    response->raw_output_contents(0)};
    if (absl::Status s = WriteNpy(options.output_npy, result); !s.ok()) return s;
  }
  if (options.json) {
    nlohmann::json json = {{"model_name", response->model_name()},
                           {"model_version", response->model_version()}};
    json["outputs"] = nlohmann::json::array();
    for (int i = 0; i < response->outputs_size(); ++i) {
      const auto& output = response->outputs(i);
      nlohmann::json o = {{"name", output.name()},
                          {"datatype", output.datatype()},
                          {"shape", std::vector<int64_t>(output.shape().begin(),
                                                         output.shape().end())}};
      if (output.datatype() == "FP32") {
        const std::string& raw = response->raw_output_contents(i);
        const auto* values = reinterpret_cast<const float*>(raw.data());
        o["data"] = std::vector<float>(values, values + raw.size() / sizeof(float));
      }
      json["outputs"].push_back(std::move(o));
    }
    if (options.layer_stats) {
      if (absl::Status s = AppendLayerStats(*response, options, out, &json); !s.ok()) return s;
    }
    out << json.dump(2) << "\n";
    return absl::OkStatus();
  }
  for (int i = 0; i < response->outputs_size(); ++i) {
    const auto& output = response->outputs(i);
    out << "output " << output.name() << ": " << output.datatype() << " ["
        << absl::StrJoin(output.shape(), ", ") << "]"
        << (options.output_npy.empty() || i > 0 ? "" : " written to " + options.output_npy)
        << "\n";
  }
  const auto& first = response->outputs(0);
  const std::string& raw = response->raw_output_contents(0);
  if (first.datatype() == "FP32" && first.shape_size() == 2 && first.shape(0) >= 0 &&
      first.shape(1) > 0 &&
      raw.size() == static_cast<size_t>(first.shape(0) * first.shape(1)) * sizeof(float)) {
    TextTable table({"row", "rank", "class", "score"});
    const auto* scores = reinterpret_cast<const float*>(raw.data());
    const int classes = static_cast<int>(first.shape(1));
    for (int64_t r = 0; r < first.shape(0); ++r) {
      const float* row = scores + r * classes;
      const std::vector<int> top = TopK(row, classes, options.top_k);
      for (size_t j = 0; j < top.size(); ++j) {
        table.AddRow({j == 0 ? absl::StrCat(r) : "", absl::StrCat(j + 1), absl::StrCat(top[j]),
                      absl::StrFormat("%.6f", row[top[j]])});
      }
    }
    out << table.Render();
  }
  if (options.layer_stats) return AppendLayerStats(*response, options, out, nullptr);
  return absl::OkStatus();
}

absl::Status Classify(Client& client, const std::string& model,
                      const std::vector<std::string>& images, const ConvctlOptions& options,
                      std::ostream& out) {
  if (options.top_k < 1) return absl::InvalidArgumentError("-k must be at least 1");
  auto metadata = SingleInputMetadata(client, model, options);
  if (!metadata.ok()) return metadata.status();
  const TensorMetadata& output = metadata->outputs(0);
  const int64_t classes = output.shape_size() > 0 ? output.shape(output.shape_size() - 1) : 0;
  // Asking for more classes than the model has means all of them.
  const int k = static_cast<int>(classes > 0 ? std::min<int64_t>(options.top_k, classes)
                                             : options.top_k);
  inference::ModelInferRequest request;
  request.set_model_name(model);
  request.set_model_version(options.model_version);
  auto* tensor = request.add_inputs();
  tensor->set_name(metadata->inputs(0).name());
  tensor->set_datatype("BYTES");
  tensor->add_shape(static_cast<int64_t>(images.size()));
  std::string& raw = *request.add_raw_input_contents();
  for (const std::string& path : images) {
    absl::StatusOr<std::string> bytes = ReadFile(path);
    if (!bytes.ok()) return absl::NotFoundError(absl::StrCat("cannot read image ", path));
    AppendBytesElement(*bytes, raw);
  }
  auto* requested = request.add_outputs();
  requested->set_name(output.name());
  (*requested->mutable_parameters())["classification"].set_int64_param(k);
  SetRequestParameters(options, request);
  auto response = client.Infer(request);
  if (!response.ok()) {
    // The server names images by index; say which file that is.
    std::vector<std::string> numbered;
    for (size_t i = 0; i < images.size(); ++i) numbered.push_back(absl::StrCat(i, "=", images[i]));
    return absl::Status(response.status().code(),
                        absl::StrCat(response.status().message(), " [images: ",
                                     absl::StrJoin(numbered, ", "), "]"));
  }
  std::vector<std::string_view> results;
  if (absl::Status s = SplitBytesTensor(response->raw_output_contents(0), results); !s.ok()) {
    return s;
  }
  if (results.size() != images.size() * k) {
    return absl::InternalError(absl::StrCat("expected ", images.size() * k,
                                            " classification results; got ", results.size()));
  }
  nlohmann::json json = {{"model_name", response->model_name()},
                         {"model_version", response->model_version()},
                         {"results", nlohmann::json::array()}};
  TextTable table({"image", "rank", "class", "label", "score"});
  for (size_t i = 0; i < images.size(); ++i) {
    nlohmann::json classes_json = nlohmann::json::array();
    for (int j = 0; j < k; ++j) {
      const std::optional<Classification> entry = ParseClassification(results[i * k + j]);
      if (!entry.has_value()) {
        return absl::InternalError(
            absl::StrCat("malformed classification '", std::string(results[i * k + j]), "'"));
      }
      const std::string label = entry->label.value_or("");
      table.AddRow({j == 0 ? images[i] : "", absl::StrCat(j + 1), absl::StrCat(entry->index),
                    label, absl::StrFormat("%.6f", entry->score)});
      classes_json.push_back({{"index", entry->index}, {"label", label}, {"score", entry->score}});
    }
    json["results"].push_back({{"image", images[i]}, {"classes", classes_json}});
  }
  if (options.json) {
    if (options.layer_stats) {
      if (absl::Status s = AppendLayerStats(*response, options, out, &json); !s.ok()) return s;
    }
    out << json.dump(2) << "\n";
    return absl::OkStatus();
  }
  out << table.Render();
  if (options.layer_stats) return AppendLayerStats(*response, options, out, nullptr);
  return absl::OkStatus();
}

}  // namespace convd::client
