// convctl's server and model commands: health, models, metadata, config,
// stats, load, unload; and the dispatch.
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/convctl.h"
#include "client/text_table.h"
#include "engine/file_util.h"
#include "engine/model_config.h"
#include "google/protobuf/text_format.h"
#include "nlohmann/json.hpp"
#include "server/http/json_proto.h"

namespace convd::client {
namespace {

nlohmann::json AsJson(const google::protobuf::Message& message) {
  return nlohmann::json::parse(ProtoToJson(message));
}

std::string ShapeText(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

std::string Milliseconds(const inference::StatisticDuration& d) {
  if (d.count() == 0) return "-";
  return absl::StrFormat("%.3f", static_cast<double>(d.ns()) / d.count() / 1e6);
}

// The repository index, one model version a row (health and models).
std::string IndexTable(const inference::RepositoryIndexResponse& index) {
  TextTable table({"model", "version", "state", "reason"});
  for (const auto& model : index.models()) {
    table.AddRow({model.name(), model.version(), model.state(), model.reason()});
  }
  return table.Render();
}

absl::Status Usage(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(message, " (convctl --help lists the commands)"));
}

}  // namespace

absl::Status Health(Client& client, const std::string& server, const ConvctlOptions& options,
                    std::ostream& out) {
  auto live = client.ServerLive();
  if (!live.ok()) return live.status();
  auto ready = client.ServerReady();
  if (!ready.ok()) return ready.status();
  auto metadata = client.ServerMetadata();
  if (!metadata.ok()) return metadata.status();
  // A server may restrict its model-repository API to operators (convd
  // --grpc-restricted-protocol): health is still answered, without models.
  auto index = client.RepositoryIndex();
  const bool index_restricted =
      !index.ok() && index.status().code() == absl::StatusCode::kPermissionDenied;
  if (!index.ok() && !index_restricted) return index.status();
  if (options.json) {
    nlohmann::json json = {
        {"server", server}, {"live", *live}, {"ready", *ready}, {"metadata", AsJson(*metadata)}};
    if (index_restricted) {
      json["models"] = nullptr;
      json["models_error"] = std::string(index.status().message());
    } else {
      json["models"] = AsJson(*index)["models"];
    }
    out << json.dump(2) << "\n";
  } else {
    out << metadata->name() << " " << metadata->version() << " at " << server << ": "
        << (*live ? "live" : "NOT live") << ", " << (*ready ? "ready" : "NOT ready") << "\n"
        << "extensions: " << absl::StrJoin(metadata->extensions(), ", ") << "\n";
    if (index_restricted) {
      out << "models: not listed: " << index.status().message() << " (--header NAME=VALUE)\n";
    } else {
      out << IndexTable(*index);
    }
  }
  if (!*live || !*ready) {
    return absl::UnavailableError(absl::StrCat("convd at ", server, " is ",
                                               *live ? "live but not ready" : "not live"));
  }
  return absl::OkStatus();
}

absl::Status Models(Client& client, const ConvctlOptions& options, std::ostream& out) {
  auto index = client.RepositoryIndex();
  if (!index.ok()) return index.status();
  if (options.json) {
    out << AsJson(*index)["models"].dump(2) << "\n";
    return absl::OkStatus();
  }
  out << IndexTable(*index);
  return absl::OkStatus();
}

absl::Status Metadata(Client& client, const std::string& model, const ConvctlOptions& options,
                      std::ostream& out) {
  auto metadata = client.ModelMetadata(model, options.model_version);
  if (!metadata.ok()) return metadata.status();
  if (options.json) {
    out << AsJson(*metadata).dump(2) << "\n";
    return absl::OkStatus();
  }
  out << "model " << metadata->name() << ", platform " << metadata->platform() << ", versions "
      << absl::StrJoin(metadata->versions(), ", ") << "\n";
  TextTable table({"tensor", "name", "datatype", "shape"});
  for (const auto& input : metadata->inputs()) {
    table.AddRow({"input", input.name(), input.datatype(), ShapeText(input.shape())});
  }
  for (const auto& output : metadata->outputs()) {
    table.AddRow({"output", output.name(), output.datatype(), ShapeText(output.shape())});
  }
  out << table.Render();
  return absl::OkStatus();
}

absl::Status Config(Client& client, const std::string& model, const ConvctlOptions& options,
                    std::ostream& out) {
  auto config = client.ModelConfig(model, options.model_version);
  if (!config.ok()) return config.status();
  if (options.json) {
    out << AsJson(*config).dump(2) << "\n";
    return absl::OkStatus();
  }
  // The text format is what config.pbtxt files are written in.
  std::string text;
  google::protobuf::TextFormat::PrintToString(*config, &text);
  out << text;
  return absl::OkStatus();
}

// The config in `path` as JSON: a JSON file as it is (the server checks
// it), config.pbtxt text converted.
absl::StatusOr<std::string> ConfigAsJson(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(*text), "{")) return text;
  absl::StatusOr<inference::ModelConfig> config = ParseModelConfig(*text);
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--config ", path, ": neither JSON nor config.pbtxt text: ", config.status().message()));
  }
  return ProtoToJson(*config);
}

absl::Status Stats(Client& client, const std::string& model, const ConvctlOptions& options,
                   std::ostream& out) {
  auto stats = client.ModelStatistics(model, options.model_version);
  if (!stats.ok()) return stats.status();
  if (options.json) {
    out << AsJson(*stats).dump(2) << "\n";
    return absl::OkStatus();
  }
  TextTable table({"model", "version", "requests", "failed", "images", "batches", "avg batch",
                   "cache hits", "request ms", "queue ms", "compute ms"});
  for (const auto& m : stats->model_stats()) {
    const auto& s = m.inference_stats();
    inference::StatisticDuration compute;
    compute.set_count(s.compute_infer().count());
    compute.set_ns(ComputeNs(s));
    // Images per batch from the batches themselves: inference_count also
    // counts images answered from the response cache, which ran in none.
    double batched_images = 0, batches = 0;
    for (const auto& b : m.batch_stats()) {
      batched_images += static_cast<double>(b.batch_size()) * b.compute_infer().count();
      batches += static_cast<double>(b.compute_infer().count());
    }
    const uint64_t cache_lookups = s.cache_hit().count() + s.cache_miss().count();
    table.AddRow(
        {m.name(), m.version(), absl::StrCat(s.success().count()), absl::StrCat(s.fail().count()),
         absl::StrCat(m.inference_count()), absl::StrCat(m.execution_count()),
         batches == 0 ? "-" : absl::StrFormat("%.2f", batched_images / batches),
         cache_lookups == 0 ? "-" : absl::StrCat(s.cache_hit().count(), " of ", cache_lookups),
         Milliseconds(s.success()), Milliseconds(s.queue()), Milliseconds(compute)});
  }
  out << table.Render();
  // One model: its batches by size, which is what dynamic batching tuning needs.
  if (stats->model_stats_size() == 1 && stats->model_stats(0).batch_stats_size() > 0) {
    TextTable batches({"batch size", "executions", "compute ms", "ms per image"});
    for (const auto& b : stats->model_stats(0).batch_stats()) {
      const auto& infer = b.compute_infer();
      const double ms =
          infer.count() == 0 ? 0 : static_cast<double>(infer.ns()) / infer.count() / 1e6;
      batches.AddRow({absl::StrCat(b.batch_size()), absl::StrCat(infer.count()),
                      absl::StrFormat("%.3f", ms),
                      absl::StrFormat("%.3f", b.batch_size() ? ms / b.batch_size() : 0.0)});
    }
    out << "\n" << batches.Render();
  }
  return absl::OkStatus();
}

absl::Status RunCommand(const Command& command, const ConvctlOptions& options, Client& client,
                        const std::string& server, std::ostream& out) {
  const std::string& name = command.name;
  const auto& args = command.args;
  auto want = [&](size_t min, size_t max, const char* form) -> absl::Status {
    if (args.size() < min || args.size() > max) {
      return Usage(absl::StrCat("usage: convctl ", form));
    }
    return absl::OkStatus();
  };
  if (name == "health") {
    if (auto s = want(0, 0, "health"); !s.ok()) return s;
    return Health(client, server, options, out);
  }
  if (name == "models") {
    if (auto s = want(0, 0, "models"); !s.ok()) return s;
    return Models(client, options, out);
  }
  if (name == "metadata" || name == "config" || name == "load" || name == "unload") {
    if (auto s = want(1, 1, absl::StrCat(name, " MODEL").c_str()); !s.ok()) return s;
    if (name == "metadata") return Metadata(client, args[0], options, out);
    if (name == "config") return Config(client, args[0], options, out);
    const bool load = name == "load";
    std::string config_json;
    if (load && !options.config_file.empty()) {
      absl::StatusOr<std::string> config = ConfigAsJson(options.config_file);
      if (!config.ok()) return config.status();
      config_json = *std::move(config);
    }
    absl::Status status =
        load ? client.LoadModel(args[0], config_json) : client.UnloadModel(args[0]);
    if (!status.ok()) return status;
    if (options.json) {
      out << nlohmann::json({{"model", args[0]}, {load ? "loaded" : "unloaded", true}}).dump()
          << "\n";
    } else {
      out << (load ? "loaded " : "unloaded ") << args[0] << "\n";
    }
    return absl::OkStatus();
  }
  if (name == "stats") {
    if (auto s = want(0, 1, "stats [MODEL]"); !s.ok()) return s;
    return Stats(client, args.empty() ? "" : args[0], options, out);
  }
  if (name == "infer") {
    if (auto s = want(1, 1, "infer MODEL --input FILE.npy|--random [--batch N]"); !s.ok()) {
      return s;
    }
    return Infer(client, args[0], options, out);
  }
  if (name == "classify") {
    if (auto s = want(2, 1 << 20, "classify MODEL IMAGE... [-k 5]"); !s.ok()) return s;
    return Classify(client, args[0], {args.begin() + 1, args.end()}, options, out);
  }
  return Usage(absl::StrCat("unknown command '", name, "'"));
}

}  // namespace convd::client
