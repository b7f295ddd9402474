#include "client/load_generator.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace convd::client {
namespace {

using Clock = std::chrono::steady_clock;

// What one worker thread saw in the measured window.
struct WorkerRecord {
  std::vector<double> latencies_ms;
  std::map<std::string, int64_t> errors;
};

// The window and the shared stop signal of one step.
struct Window {
  Clock::time_point begin;
  // The coordinator moves the end earlier when the step stops early.
  std::atomic<Clock::rep> end_ticks{0};
  std::atomic<bool> done{false};
  std::atomic<int64_t> measured{0};
  int64_t max_requests = 0;

  Clock::time_point end() const { return Clock::time_point(Clock::duration(end_ticks.load())); }
  void set_end(Clock::time_point t) { end_ticks = t.time_since_epoch().count(); }
  bool Contains(Clock::time_point t) const { return t >= begin && t < end(); }
};

// Sends `request`, due at `due`, and records it if it was due inside the window.
void SendOne(Client& client, const inference::ModelInferRequest& request, Clock::time_point due,
             Window& window, WorkerRecord& record, LoadProgress& progress) {
  const absl::StatusOr<inference::ModelInferResponse> response = client.Infer(request);
  const Clock::time_point finished = Clock::now();
  if (!window.Contains(due)) return;
  if (response.ok()) {
    record.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(finished - due).count());
    progress.succeeded.fetch_add(1, std::memory_order_relaxed);
  } else {
    ++record.errors[absl::StatusCodeToString(response.status().code())];
    progress.errors.fetch_add(1, std::memory_order_relaxed);
  }
  if (window.measured.fetch_add(1) + 1 >= window.max_requests) window.done = true;
}

// A queue of due times between the open-loop dispatcher and its workers.
class DueQueue {
 public:
  explicit DueQueue(size_t capacity) : capacity_(capacity) {}

  // False when `capacity` requests are already waiting.
  bool Push(Clock::time_point due) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= capacity_) return false;
    queue_.push_back(due);
    ready_.notify_one();
    return true;
  }
  // Blocks for the next due time; false once closed and drained.
  bool Pop(Clock::time_point* due) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) return false;
    *due = queue_.front();
    queue_.pop_front();
    return true;
  }
  // Workers finish what is queued, then stop.
  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    ready_.notify_all();
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.clear();
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Clock::time_point> queue_;
  bool closed_ = false;
};

// Images per execution over the window. The per-batch-size execution
// counts are recorded with each execution, so they agree with one another
// in any snapshot; inference_count is recorded when a request's response
// is, so a snapshot taken with requests in flight can count an execution
// before its images (a ratio under 1 at batch 1). Servers without batch
// statistics fall back to that ratio.
double MeanBatch(const inference::ModelStatistics& before,
                 const inference::ModelStatistics& after) {
  std::map<uint64_t, double> executions_by_size;
  for (const auto& batch : after.batch_stats()) {
    executions_by_size[batch.batch_size()] += static_cast<double>(batch.compute_infer().count());
  }
  for (const auto& batch : before.batch_stats()) {
    executions_by_size[batch.batch_size()] -= static_cast<double>(batch.compute_infer().count());
  }
  double executions = 0, images = 0;
  for (const auto& [size, count] : executions_by_size) {
    executions += count;
    images += count * static_cast<double>(size);
  }
  if (executions > 0) return images / executions;
  if (!executions_by_size.empty()) return -1;  // no execution in the window
  executions = static_cast<double>(after.execution_count()) - before.execution_count();
  if (executions <= 0) return -1;
  return (static_cast<double>(after.inference_count()) - before.inference_count()) / executions;
}

}  // namespace

ServerBreakdown ServerStatisticsDifference(const inference::ModelStatistics& before,
                                           const inference::ModelStatistics& after) {
  ServerBreakdown result;
  const auto& b = before.inference_stats();
  const auto& a = after.inference_stats();
  const double requests = static_cast<double>(a.success().count()) - b.success().count();
  if (requests > 0) {
    result.request_ms = (static_cast<double>(a.success().ns()) - b.success().ns()) / requests / 1e6;
    result.queue_ms = (static_cast<double>(a.queue().ns()) - b.queue().ns()) / requests / 1e6;
    result.compute_ms =
        (static_cast<double>(ComputeNs(a)) - ComputeNs(b)) / requests / 1e6;
  }
  result.batch = MeanBatch(before, after);
  return result;
}

int64_t StepResult::error_count() const {
  int64_t total = 0;
  for (const auto& [code, count] : errors) total += count;
  return total;
}

double StepResult::Percentile(double p) const {
  if (latencies_ms.empty()) return 0;
  std::vector<double> sorted = latencies_ms;
  const size_t rank = static_cast<size_t>(
      std::clamp(std::ceil(p / 100.0 * sorted.size()), 1.0, static_cast<double>(sorted.size())));
  std::nth_element(sorted.begin(), sorted.begin() + (rank - 1), sorted.end());
  return sorted[rank - 1];
}

StepResult RunLoadStep(const LoadStep& step,
                       const std::vector<inference::ModelInferRequest>& requests,
                       const ClientFactory& make_client, const StatsFetcher& fetch_stats,
                       const std::atomic<bool>& stop, LoadProgress& progress) {
  StepResult result;
  result.step = step;
  progress.measuring = false;
  progress.succeeded = 0;
  progress.errors = 0;
  if (requests.empty()) return result;

  Window window;
  window.begin = Clock::now() + step.warmup;
  window.set_end(window.begin + step.duration);
  window.max_requests = step.max_requests;
  const bool open_loop = step.rate > 0;
  const int workers = open_loop ? std::max(1, step.max_in_flight) : std::max(1, step.concurrency);
  std::vector<WorkerRecord> records(workers + 1);  // the last: the dispatcher's drops
  DueQueue due_queue(static_cast<size_t>(workers));

  // The coordinator: snapshots the server's statistics around the window
  // and ends the step at its end, on max_requests, or on `stop`.
  Clock::time_point measured_until;
  ServerBreakdown breakdown;
  std::thread coordinator([&] {
    while (Clock::now() < window.begin && !stop && !window.done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto before = fetch_stats();
    progress.measuring = true;
    while (Clock::now() < window.end() && !stop && !window.done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    measured_until = std::min(Clock::now(), window.end());
    window.set_end(measured_until);  // nothing due later counts
    window.done = true;
    progress.measuring = false;
    auto after = fetch_stats();
    if (before.ok() && after.ok()) breakdown = ServerStatisticsDifference(*before, *after);
  });

  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      std::unique_ptr<Client> client = make_client();
      WorkerRecord& record = records[w];
      size_t next = static_cast<size_t>(w);
      if (open_loop) {
        Clock::time_point due;
        while (due_queue.Pop(&due)) {
          SendOne(*client, requests[next++ % requests.size()], due, window, record, progress);
        }
      } else {
        while (!window.done) {
          SendOne(*client, requests[next++ % requests.size()], Clock::now(), window, record,
                  progress);
        }
      }
    });
  }
  if (open_loop) {
    std::mt19937_64 rng(std::random_device{}());
    std::exponential_distribution<double> gap(step.rate);
    Clock::time_point due = Clock::now();
    while (!window.done) {
      const double seconds = step.poisson ? gap(rng) : 1.0 / step.rate;
      due += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
      std::this_thread::sleep_until(due);
      if (window.done) break;
      if (!due_queue.Push(due) && window.Contains(due)) {
        ++records[workers].errors["CLIENT_BACKLOG"];
        progress.errors.fetch_add(1, std::memory_order_relaxed);
      }
    }
    due_queue.Clear();  // due after the window: never sent
    due_queue.Close();
  }
  for (std::thread& t : threads) t.join();
  coordinator.join();

  result.seconds = std::chrono::duration<double>(measured_until - window.begin).count();
  if (result.seconds < 0) result.seconds = 0;  // stopped during warm-up
  for (WorkerRecord& record : records) {
    result.latencies_ms.insert(result.latencies_ms.end(), record.latencies_ms.begin(),
                               record.latencies_ms.end());
    for (const auto& [code, count] : record.errors) result.errors[code] += count;
  }
  result.succeeded = static_cast<int64_t>(result.latencies_ms.size());
  result.server_queue_ms = breakdown.queue_ms;
  result.server_compute_ms = breakdown.compute_ms;
  result.server_batch = breakdown.batch;
  return result;
}

absl::StatusOr<std::vector<double>> ParseSweep(const std::string& text) {
  auto invalid = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad sweep '", text, "': ", why,
        " (examples: 8, 1,2,8, 1:64:x2 for 1 2 4 ... 64, 100:500:+100)"));
  };
  auto number = [](absl::string_view s, double* value) {
    return absl::SimpleAtod(absl::StripAsciiWhitespace(s), value) && std::isfinite(*value) &&
           *value > 0;
  };
  std::vector<double> values;
  const std::vector<absl::string_view> range = absl::StrSplit(text, ':');
  if (range.size() == 3) {
    double first, last, by;
    absl::string_view step = absl::StripAsciiWhitespace(range[2]);
    const bool multiply = absl::ConsumePrefix(&step, "x");
    const bool add = !multiply && absl::ConsumePrefix(&step, "+");
    if (!number(range[0], &first) || !number(range[1], &last) || !number(step, &by) ||
        (!multiply && !add)) {
      return invalid("expected FIRST:LAST:xFACTOR or FIRST:LAST:+STEP with positive numbers");
    }
    if (multiply && by <= 1) return invalid("the factor must be above 1");
    for (double v = first; v <= last * (1 + 1e-9); v = multiply ? v * by : v + by) {
      values.push_back(v);
      if (values.size() > 64) return invalid("more than 64 steps");
    }
  } else if (range.size() == 1) {
    for (absl::string_view part : absl::StrSplit(text, ',')) {
      double v;
      if (!number(part, &v)) return invalid(absl::StrCat("'", part, "' is not a positive number"));
      values.push_back(v);
    }
    if (values.size() > 64) return invalid("more than 64 steps");
  } else {
    return invalid("expected one value, a list, or FIRST:LAST:STEP");
  }
  if (values.empty()) return invalid("no values");
  return values;
}

}  // namespace convd::client
