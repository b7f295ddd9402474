// grpc_floor: how much of a served request's round trip is the protocol
// itself. One client alternates a call that does nothing on the server
// (ServerLive) with a 1-image inference (random input in the model's
// shape), both over the same connection, and prints each one's median and
// p99 round trip: the first is the floor any request pays, and the
// difference is what serving the model adds to it (decoding, the
// batcher's hand-off, the forward pass, encoding). bench/served_vs_engine.sh
// prints it next to the engine's time.
//
//   grpc_floor --url 127.0.0.1:8001 --model lenet5 [--requests 2000]
// (an http:// URL measures the REST protocol the same way).
// Prints one JSON object:
//   {"live_p50_ms": ..., "live_p99_ms": ..., "infer_p50_ms": ..., "infer_p99_ms": ...,
//    "server_us": ..., "server_queue_us": ..., "server_compute_us": ..., "server_other_us": ...}
// the last four from the model's statistics over the measured inferences
// (means: arrival to answer, queue, forward pass, and the rest: decoding,
// encoding and hand-offs inside the server).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/load_generator.h"
#include "client/npy.h"
#include "client/random_tensor.h"
#include "client/server_url.h"
#include "server/mutex_settings.h"

ABSL_FLAG(std::string, url, "localhost:8001", "Server: [grpc://|http://]host[:port].");
ABSL_FLAG(std::string, model, "lenet5", "Model to infer with (1 image, random input).");
ABSL_FLAG(int, requests, 2000, "Calls of each kind, after as many unmeasured ones.");

namespace convd::client {
namespace {

absl::Status Run() {
  auto url = ParseServerUrl(absl::GetFlag(FLAGS_url));
  if (!url.ok()) return url.status();
  std::unique_ptr<Client> client = CreateClient(*url);
  const std::string model = absl::GetFlag(FLAGS_model);
  auto metadata = client->ModelMetadata(model, "");
  if (!metadata.ok()) return metadata.status();
  if (metadata->inputs_size() == 0) return absl::FailedPreconditionError("model has no inputs");
  const auto& input = metadata->inputs(0);
  auto random = RandomTensor(input.datatype(), {input.shape().begin(), input.shape().end()}, 1);
  if (!random.ok()) return random.status();
  inference::ModelInferRequest request;
  request.set_model_name(model);
  AddInput(input.name(), *std::move(random), request);

  const int requests = std::max(1, absl::GetFlag(FLAGS_requests));
  // Percentiles as convload reports them (StepResult::Percentile).
  StepResult live, infer;
  absl::StatusOr<inference::ModelStatisticsResponse> before;
  for (int i = 0; i < 2 * requests; ++i) {
    const bool measured = i >= requests;  // the first half warms up both paths
    if (i == requests) before = client->ModelStatistics(model, "");
    auto start = std::chrono::steady_clock::now();
    if (absl::StatusOr<bool> live = client->ServerLive(); !live.ok()) return live.status();
    auto middle = std::chrono::steady_clock::now();
    if (auto response = client->Infer(request); !response.ok()) return response.status();
    auto end = std::chrono::steady_clock::now();
    if (!measured) continue;
    live.latencies_ms.push_back(std::chrono::duration<double, std::milli>(middle - start).count());
    infer.latencies_ms.push_back(std::chrono::duration<double, std::milli>(end - middle).count());
  }
  // The server's own account of the measured inferences: mean time from
  // arrival to answer, in the queue, and in the forward pass (compute);
  // what is left is decoding, encoding and hand-offs inside convd.
  absl::StatusOr<inference::ModelStatisticsResponse> after = client->ModelStatistics(model, "");
  if (!before.ok()) return before.status();
  if (!after.ok()) return after.status();
  if (before->model_stats_size() == 0 || after->model_stats_size() == 0) {
    return absl::NotFoundError(absl::StrCat("no statistics for model ", model));
  }
  const ServerBreakdown server =
      ServerStatisticsDifference(before->model_stats(0), after->model_stats(0));
  const double server_us = 1e3 * server.request_ms, queue_us = 1e3 * server.queue_ms,
               compute_us = 1e3 * server.compute_ms;
  std::printf(
      "{\"live_p50_ms\": %.4f, \"live_p99_ms\": %.4f, \"infer_p50_ms\": %.4f, "
      "\"infer_p99_ms\": %.4f, \"server_us\": %.1f, \"server_queue_us\": %.1f, "
      "\"server_compute_us\": %.1f, \"server_other_us\": %.1f}\n",
      live.Percentile(50), live.Percentile(99), infer.Percentile(50), infer.Percentile(99),
      server_us, queue_us, compute_us, server_us - queue_us - compute_us);
  return absl::OkStatus();
}

}  // namespace
}  // namespace convd::client

int main(int argc, char** argv) {
  convd::DisableMutexDeadlockDetection();  // as convd does (server/mutex_settings.h)
  absl::ParseCommandLine(argc, argv);
  if (absl::Status status = convd::client::Run(); !status.ok()) {
    std::fprintf(stderr, "grpc_floor: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
