// convload's engine: one load step against a server, closed loop (a fixed
// number of clients, each sending its next request when the last one is
// answered) or open loop (requests sent on a schedule, constant or Poisson,
// whether or not earlier ones were answered). Latency in open loop is
// measured from each request's scheduled time, so a server that falls
// behind shows it in the percentiles (no coordinated omission).
//
// Every step is bounded: it ends after warm-up + duration, or after
// max_requests measured requests, or when `stop` becomes true; RunLoadStep
// returns only after every worker thread has finished.
#ifndef CONVD_CLIENT_LOAD_GENERATOR_H_
#define CONVD_CLIENT_LOAD_GENERATOR_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client.h"
#include "proto/inference.pb.h"

namespace convd::client {

struct LoadStep {
  // Closed loop when rate == 0: `concurrency` clients back to back.
  int concurrency = 1;
  // Open loop when > 0: requests per second, sent by up to `max_in_flight`
  // clients; a request due while all of them are busy waits for one
  // (its latency counts the wait) unless `max_in_flight` requests are
  // already waiting, in which case it is dropped and counted as
  // "CLIENT_BACKLOG".
  double rate = 0;
  bool poisson = false;  // exponential gaps instead of constant ones
  int max_in_flight = 64;
  int batch = 1;  // images per request (for reporting; the requests carry it)
  std::chrono::milliseconds warmup{2000};
  std::chrono::milliseconds duration{10000};
  int64_t max_requests = 10'000'000;  // measured requests, at most
};

// One model's statistics over a window, from two snapshots: per request
// answered in it, the mean milliseconds from arrival to answer, in the
// queue and in compute (input, forward pass, output); images per
// execution (MeanBatch in load_generator.cc). -1 where the window holds
// none to average.
struct ServerBreakdown {
  double request_ms = -1, queue_ms = -1, compute_ms = -1, batch = -1;
};
ServerBreakdown ServerStatisticsDifference(const inference::ModelStatistics& before,
                                           const inference::ModelStatistics& after);

struct StepResult {
  LoadStep step;
  double seconds = 0;            // the measured window
  int64_t succeeded = 0;         // answered OK inside the window
  std::map<std::string, int64_t> errors;  // by status code name
  std::vector<double> latencies_ms;       // of the successful requests
  // From the server's statistics over the window; negative when unknown.
  double server_queue_ms = -1;
  double server_compute_ms = -1;
  double server_batch = -1;      // images per execution

  double requests_per_second() const { return seconds > 0 ? succeeded / seconds : 0; }
  double images_per_second() const { return requests_per_second() * step.batch; }
  int64_t error_count() const;
  // Nearest-rank percentile (p in [0, 100]) of latencies_ms; 0 when empty.
  double Percentile(double p) const;
};

// Live counters a progress printer may read while a step runs.
struct LoadProgress {
  std::atomic<bool> measuring{false};
  std::atomic<int64_t> succeeded{0};  // in the measured window
  std::atomic<int64_t> errors{0};
};

using ClientFactory = std::function<std::unique_ptr<Client>()>;
// Snapshots the server's statistics for the model under load (for the
// queue/compute breakdown); may fail, and the breakdown is left unknown.
using StatsFetcher = std::function<absl::StatusOr<inference::ModelStatistics>()>;

StepResult RunLoadStep(const LoadStep& step,
                       const std::vector<inference::ModelInferRequest>& requests,
                       const ClientFactory& make_client, const StatsFetcher& fetch_stats,
                       const std::atomic<bool>& stop, LoadProgress& progress);

// "8", "1,2,8", "1:64:x2" (1 2 4 ... 64), "100:500:+100" (100 200 ... 500).
// INVALID_ARGUMENT for anything else, or more than 64 values.
absl::StatusOr<std::vector<double>> ParseSweep(const std::string& text);

}  // namespace convd::client

#endif  // CONVD_CLIENT_LOAD_GENERATOR_H_
