// convload: a load test of one model on a KServe v2 server.
//
//   convload lenet5 --concurrency 1:64:x2 --duration 10s          (closed loop)
//   convload alexnet --url http://localhost:8000 --rate 50 --poisson (open loop)
//   convload lenet5 --images models/lenet5/samples --batch 1,8 --plot out.svg
//
// Each step warms up (not measured), then measures for --duration; the
// table at the end has throughput, latency percentiles, errors by status
// and the server's own queue/compute split. Loopback only unless
// --allow-remote; every step is bounded in time and requests.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/connection_flags.h"
#include "client/load_generator.h"
#include "client/load_report.h"
#include "client/npy.h"
#include "client/random_tensor.h"
#include "client/shared_memory_requests.h"
#include "engine/file_util.h"
#include "server/cli_flags.h"
#include "server/core/bytes_tensor.h"
#include "server/core/datatype.h"
#include "server/mutex_settings.h"

ABSL_FLAG(std::string, url, "localhost:8001", "Server: [grpc://|http://]host[:port].");
ABSL_FLAG(bool, allow_remote, false, "Allow a server that is not on loopback.");
ABSL_FLAG(std::string, concurrency, "1:16:x2",
          "Closed loop: clients in flight; one value, a list (1,4,16) or a sweep (1:64:x2).");
ABSL_FLAG(std::string, rate, "",
          "Open loop instead: requests per second; one value, a list or a sweep (100:500:+100).");
ABSL_FLAG(bool, poisson, false, "Open loop: exponential gaps between requests.");
ABSL_FLAG(int, max_in_flight, 64, "Open loop: most requests outstanding at once.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Measured time per step (at most 10m).");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "Unmeasured time before each step.");
ABSL_FLAG(std::string, batch, "1", "Images per request; a list (1,8) makes a step per size.");
ABSL_FLAG(std::string, images, "",
          "PNG/JPEG files or folders, comma-separated, sent as encoded images; "
          "default: random tensors of the model's input shape.");
ABSL_FLAG(int64_t, max_requests, 10'000'000, "Measured requests per step, at most.");
ABSL_FLAG(int, timeout_seconds, 30, "Deadline of each request.");
ABSL_FLAG(uint64_t, priority, 0,
          "Each request's priority parameter (1 the highest); 0: none (the model's default).");
ABSL_FLAG(bool, streaming, false,
          "gRPC: each client sends its requests on one ModelStreamInfer stream (as "
          "perf_analyzer --streaming) instead of a call per request.");
ABSL_FLAG(std::string, shared_memory, "none",
          "none: tensors travel in the requests; system: inputs and outputs in POSIX shared "
          "memory registered with the server, which must run on this host with "
          "--allow-client-shm (as perf_analyzer --shared-memory=system).");
ABSL_FLAG(std::string, csv, "", "Also write the results as CSV to this file.");
ABSL_FLAG(std::string, json, "", "Also write the results as JSON to this file.");
ABSL_FLAG(std::string, plot, "", "Also draw throughput and p99 latency to this SVG file.");
ABSL_FLAG(bool, quiet, false, "No progress line.");

namespace convd::client {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

int Fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "convload: %s\n", message.c_str());
  return code;
}

absl::StatusOr<std::vector<std::string>> ImageFiles(const std::string& spec) {
  std::vector<std::string> files;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    const fs::path path{std::string(part)};
    std::error_code error;
    if (fs::is_directory(path, error)) {
      for (const auto& entry : fs::directory_iterator(path, error)) {
        const std::string ext = entry.path().extension().string();
        if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".PNG" || ext == ".JPG") {
          files.push_back(entry.path().string());
        }
      }
    } else if (fs::is_regular_file(path, error)) {
      files.push_back(path.string());
    } else {
      return absl::NotFoundError(absl::StrCat("no image file or folder ", path.string()));
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) return absl::NotFoundError(absl::StrCat("no PNG/JPEG files in ", spec));
  return files;
}

// A few distinct requests of `batch` rows, cycled through by the workers.
absl::StatusOr<std::vector<inference::ModelInferRequest>> MakeRequests(
    const std::string& model, const inference::ModelMetadataResponse& metadata, int batch,
    const std::vector<std::string>& image_bytes) {
  const auto& input = metadata.inputs(0);
  std::vector<inference::ModelInferRequest> requests;
  const int distinct = image_bytes.empty() ? 4 : std::clamp<int>(image_bytes.size(), 1, 16);
  for (int r = 0; r < distinct; ++r) {
    inference::ModelInferRequest request;
    request.set_model_name(model);
    if (!image_bytes.empty()) {
      auto* tensor = request.add_inputs();
      tensor->set_name(input.name());
      std::string& raw = *request.add_raw_input_contents();
      tensor->set_datatype("BYTES");
      tensor->add_shape(batch);
      for (int i = 0; i < batch; ++i) {
        AppendBytesElement(image_bytes[(r * batch + i) % image_bytes.size()], raw);
      }
    } else {
      auto random = RandomTensor(input.datatype(), {input.shape().begin(), input.shape().end()},
                                 batch);
      if (!random.ok()) {
        return absl::Status(random.status().code(),
                            absl::StrCat(random.status().message(), " (use --images)"));
      }
      AddInput(input.name(), *std::move(random), request);
    }
    if (const uint64_t priority = absl::GetFlag(FLAGS_priority); priority > 0) {
      (*request.mutable_parameters())["priority"].set_uint64_param(priority);
    }
    requests.push_back(std::move(request));
  }
  return requests;
}

// One response's output bytes at `batch` rows, from the model metadata
// (a -1 dimension is the batch); 0 when the datatype has no fixed size.
uint64_t OutputBytes(const inference::ModelMetadataResponse& metadata, int batch) {
  const auto& output = metadata.outputs(0);
  uint64_t bytes = DatatypeBytes(output.datatype());
  for (int64_t d : output.shape()) bytes *= d < 0 ? batch : d;
  return bytes;
}

bool WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << contents;
  return static_cast<bool>(file);
}

std::string StepName(const LoadStep& step) {
  return step.rate > 0 ? absl::StrFormat("rate %g/s%s batch %d", step.rate,
                                         step.poisson ? " (poisson)" : "", step.batch)
                       : absl::StrFormat("concurrency %d batch %d", step.concurrency, step.batch);
}

int Main(const std::string& model) {
  auto url = ParseServerUrl(absl::GetFlag(FLAGS_url));
  if (!url.ok()) return Fail(std::string(url.status().message()), 2);
  if (!url->IsLoopback() && !absl::GetFlag(FLAGS_allow_remote)) {
    return Fail(absl::StrCat(url->ToString(), " is not on loopback; pass --allow-remote to load "
                             "a server you run elsewhere"), 2);
  }
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  if (duration <= absl::ZeroDuration() || duration > absl::Minutes(10)) {
    return Fail("--duration must be above 0 and at most 10m", 2);
  }
  if (warmup < absl::ZeroDuration() || warmup > absl::Minutes(1)) {
    return Fail("--warmup must be from 0 to 1m", 2);
  }
  const bool open_loop = !absl::GetFlag(FLAGS_rate).empty();
  auto loads = ParseSweep(open_loop ? absl::GetFlag(FLAGS_rate) : absl::GetFlag(FLAGS_concurrency));
  if (!loads.ok()) return Fail(std::string(loads.status().message()), 2);
  auto batches = ParseSweep(absl::GetFlag(FLAGS_batch));
  if (!batches.ok()) return Fail(std::string(batches.status().message()), 2);
  for (double load : *loads) {
    if (!open_loop && (load != std::floor(load) || load > 1024)) {
      return Fail("--concurrency values must be whole numbers up to 1024", 2);
    }
    if (open_loop && load > 1e6) return Fail("--rate values must be at most 1000000/s", 2);
  }
  const int max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  if (max_in_flight < 1 || max_in_flight > 1024) return Fail("--max-in-flight: 1 to 1024", 2);
  const size_t step_count = loads->size() * batches->size();
  if (step_count > 64) return Fail("at most 64 steps (loads x batch sizes)", 2);
  if ((duration + warmup) * step_count > absl::Hours(1)) {
    return Fail("the whole run would exceed an hour; shorten --duration or the sweep", 2);
  }

  ClientOptions client_options;
  client_options.timeout = std::chrono::seconds(std::max(1, absl::GetFlag(FLAGS_timeout_seconds)));
  client_options.streaming = absl::GetFlag(FLAGS_streaming);
  if (absl::Status s = ApplyConnectionFlags(*url, client_options); !s.ok()) {
    return Fail(std::string(s.message()), 2);
  }
  if (client_options.streaming && url->protocol != Protocol::kGrpc) {
    return Fail("--streaming needs a gRPC --url (ModelStreamInfer is a gRPC call)", 2);
  }
  const std::string shared_memory = absl::GetFlag(FLAGS_shared_memory);
  if (shared_memory != "none" && shared_memory != "system") {
    return Fail(absl::StrCat("--shared-memory must be none or system",
                             shared_memory == "cuda" ? " (convd has no CUDA shared memory)" : "",
                             "; got '", shared_memory, "'"),
                2);
  }
  const bool use_shared_memory = shared_memory == "system";
  if (use_shared_memory && !url->IsLoopback()) {
    return Fail("--shared-memory=system needs the server on this host (a loopback --url)", 2);
  }
  auto control = CreateClient(*url, client_options);
  auto metadata = control->ModelMetadata(model, "");
  if (!metadata.ok()) return Fail(metadata.status().ToString());
  if (metadata->inputs_size() != 1) return Fail("convload sends models with one input");
  if (use_shared_memory && (metadata->outputs_size() != 1 || OutputBytes(*metadata, 1) == 0)) {
    return Fail("--shared-memory=system needs a model with one fixed-size output", 2);
  }
  auto config = control->ModelConfig(model, "");
  if (config.ok() && config->max_batch_size() > 0) {
    for (double b : *batches) {
      if (b > config->max_batch_size()) {
        return Fail(absl::StrFormat("--batch %g exceeds %s's max_batch_size %d", b, model,
                                    config->max_batch_size()), 2);
      }
    }
  }
  std::vector<std::string> image_bytes;
  std::string input_text;
  if (const std::string spec = absl::GetFlag(FLAGS_images); !spec.empty()) {
    auto files = ImageFiles(spec);
    if (!files.ok()) return Fail(std::string(files.status().message()), 2);
    for (const std::string& file : *files) {
      absl::StatusOr<std::string> bytes = ReadFile(file);
      if (!bytes.ok()) return Fail(std::string(bytes.status().message()), 2);
      image_bytes.push_back(*std::move(bytes));
    }
    input_text = absl::StrCat(files->size(), " image file", files->size() == 1 ? "" : "s");
  } else {
    const auto& shape = metadata->inputs(0).shape();
    input_text = absl::StrCat("random ", metadata->inputs(0).datatype(), " [",
                              absl::StrJoin(shape.begin() + (shape.size() > 0 && shape[0] < 0),
                                            shape.end(), ", "),
                              "]");
  }

  LoadRun run{model,
              absl::StrCat(url->ToString(), client_options.streaming ? " (ModelStreamInfer)" : "",
                           use_shared_memory ? " (system shared memory)" : ""),
              input_text, open_loop};
  const ClientFactory make_client = [&] { return CreateClient(*url, client_options); };
  const StatsFetcher fetch_stats = [&]() -> absl::StatusOr<inference::ModelStatistics> {
    auto stats = control->ModelStatistics(model, "");
    if (!stats.ok()) return stats.status();
    if (stats->model_stats_size() == 0) return absl::NotFoundError("no statistics");
    return stats->model_stats(0);
  };
  const bool show_progress = !absl::GetFlag(FLAGS_quiet) && isatty(STDERR_FILENO);
  std::vector<StepResult> results;
  size_t index = 0;
  for (double batch_value : *batches) {
    const int batch = static_cast<int>(batch_value);
    auto requests = MakeRequests(model, *metadata, batch, image_bytes);
    if (!requests.ok()) return Fail(requests.status().ToString(), 2);
    std::unique_ptr<SharedMemoryRequests> regions;  // registered for this batch size's steps
    if (use_shared_memory) {
      auto created = SharedMemoryRequests::Create(*control, absl::StrCat("b", batch),
                                                  metadata->outputs(0).name(),
                                                  OutputBytes(*metadata, batch), *requests);
      if (!created.ok()) return Fail(created.status().ToString());
      regions = *std::move(created);
    }
    for (double load : *loads) {
      if (g_stop) break;
      LoadStep step;
      step.batch = batch;
      step.warmup = std::chrono::milliseconds(absl::ToInt64Milliseconds(warmup));
      step.duration = std::chrono::milliseconds(absl::ToInt64Milliseconds(duration));
      step.max_requests = absl::GetFlag(FLAGS_max_requests);
      step.max_in_flight = max_in_flight;
      if (open_loop) {
        step.rate = load;
        step.poisson = absl::GetFlag(FLAGS_poisson);
      } else {
        step.concurrency = static_cast<int>(load);
      }
      ++index;
      const std::string name = absl::StrFormat("[%d/%d] %s", index, step_count, StepName(step));
      LoadProgress progress;
      std::atomic<bool> step_done{false};
      std::thread printer([&] {
        const auto start = std::chrono::steady_clock::now();
        while (show_progress && !step_done) {
          std::this_thread::sleep_for(std::chrono::milliseconds(250));
          const double elapsed =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          const double warm = absl::ToDoubleSeconds(warmup);
          std::fprintf(stderr, "\r\033[K%s: %s %.1fs, %lld ok, %lld errors", name.c_str(),
                       progress.measuring ? "measuring" : "warming up",
                       progress.measuring ? elapsed - warm : elapsed,
                       static_cast<long long>(progress.succeeded.load()),
                       static_cast<long long>(progress.errors.load()));
          if (progress.measuring && elapsed > warm) {
            std::fprintf(stderr, ", %.1f infer/s", progress.succeeded.load() / (elapsed - warm));
          }
          std::fflush(stderr);
        }
      });
      StepResult result = RunLoadStep(step, *requests, make_client, fetch_stats, g_stop, progress);
      step_done = true;
      printer.join();
      std::fprintf(stderr, "%s%s: %.1f infer/s, %.1f images/s, p99 %.2f ms, errors %s\n",
                   show_progress ? "\r\033[K" : "", name.c_str(), result.requests_per_second(),
                   result.images_per_second(), result.Percentile(99),
                   ErrorSummary(result).c_str());
      results.push_back(std::move(result));
    }
  }
  std::cout << RenderTable(run, results);
  for (const auto& [path, contents] :
       {std::pair{absl::GetFlag(FLAGS_csv), RenderCsv(run, results)},
        std::pair{absl::GetFlag(FLAGS_json), RenderJson(run, results)},
        std::pair{absl::GetFlag(FLAGS_plot), RenderSvgPlot(run, results)}}) {
    if (!path.empty() && !WriteFile(path, contents)) {
      return Fail(absl::StrCat("cannot write ", path));
    }
  }
  if (g_stop) return Fail("interrupted; the steps above completed", 130);
  for (const StepResult& r : results) {
    if (r.succeeded == 0) {
      return Fail(absl::StrCat("no request succeeded in a step (errors: ", ErrorSummary(r), ")"));
    }
  }
  return 0;
}

}  // namespace
}  // namespace convd::client

int main(int argc, char** argv) {
  convd::DisableMutexDeadlockDetection();  // as convd does (server/mutex_settings.h)
  std::vector<char*> positional = convd::ParseCommandLine(
      argc, argv,
      "convload MODEL [--url localhost:8001] [--concurrency 1:16:x2 | --rate R [--poisson]] "
      "[--duration 10s] [--warmup 2s] [--batch 1] [--images FILES] [--streaming] "
      "[--shared-memory none|system] [--csv F] [--json F] [--plot F.svg] "
      "[--ssl [--root-cert F] [--client-cert F --client-key F]] [--header NAME=VALUE]...",
      /*help_source=*/"client/", convd::client::kRepeatableConnectionFlags);
  if (positional.size() != 2) {
    std::fprintf(stderr, "usage: convload MODEL [flags]; convload --help lists them\n");
    return 2;
  }
  std::signal(SIGINT, convd::client::OnSignal);
  std::signal(SIGTERM, convd::client::OnSignal);
  return convd::client::Main(positional[1]);
}
