#include "client/load_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/text_table.h"
#include "nlohmann/json.hpp"

namespace convd::client {
namespace {

std::string Fixed(double value, int digits) {
  return value < 0 ? "-" : absl::StrFormat("%.*f", digits, value);
}

double Load(const LoadRun& run, const StepResult& s) {
  return run.open_loop ? s.step.rate : s.step.concurrency;
}

}  // namespace

std::string ErrorSummary(const StepResult& step) {
  if (step.errors.empty()) return "0";
  std::vector<std::string> parts;
  for (const auto& [code, count] : step.errors) parts.push_back(absl::StrCat(code, ":", count));
  return absl::StrJoin(parts, " ");
}

std::string RenderTable(const LoadRun& run, const std::vector<StepResult>& steps) {
  TextTable table({run.open_loop ? "rate/s" : "concurrency", "batch", "requests", "infer/s",
                   "images/s", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "max ms", "errors",
                   "srv queue ms", "srv compute ms", "srv batch"});
  for (const StepResult& s : steps) {
    table.AddRow({absl::StrCat(Load(run, s)), absl::StrCat(s.step.batch),
                  absl::StrCat(s.succeeded), Fixed(s.requests_per_second(), 1),
                  Fixed(s.images_per_second(), 1), Fixed(s.Percentile(50), 2),
                  Fixed(s.Percentile(90), 2), Fixed(s.Percentile(95), 2),
                  Fixed(s.Percentile(99), 2), Fixed(s.Percentile(100), 2), ErrorSummary(s),
                  Fixed(s.server_queue_ms, 3), Fixed(s.server_compute_ms, 3),
                  Fixed(s.server_batch, 2)});
  }
  return absl::StrCat("convload ", run.model, " at ", run.url, ", ", run.input, ", ",
                      run.open_loop ? "open loop" : "closed loop", "\n", table.Render());
}

std::string RenderCsv(const LoadRun& run, const std::vector<StepResult>& steps) {
  std::string out = absl::StrCat(
      run.open_loop ? "rate" : "concurrency",
      ",batch,seconds,requests,infer_per_s,images_per_s,p50_ms,p90_ms,p95_ms,p99_ms,max_ms,"
      "errors,server_queue_ms,server_compute_ms,server_batch\n");
  for (const StepResult& s : steps) {
    absl::StrAppendFormat(&out, "%g,%d,%.3f,%d,%.3f,%.3f,%.4f,%.4f,%.4f,%.4f,%.4f,%s,%.4f,%.4f,%.3f\n",
                          Load(run, s), s.step.batch, s.seconds, s.succeeded,
                          s.requests_per_second(), s.images_per_second(), s.Percentile(50),
                          s.Percentile(90), s.Percentile(95), s.Percentile(99),
                          s.Percentile(100), ErrorSummary(s), s.server_queue_ms,
                          s.server_compute_ms, s.server_batch);
  }
  return out;
}

std::string RenderJson(const LoadRun& run, const std::vector<StepResult>& steps) {
  nlohmann::json json = {{"model", run.model},
                         {"url", run.url},
                         {"input", run.input},
                         {"mode", run.open_loop ? "open_loop" : "closed_loop"}};
  json["steps"] = nlohmann::json::array();
  for (const StepResult& s : steps) {
    nlohmann::json step = {{"batch", s.step.batch},
                           {"seconds", s.seconds},
                           {"requests", s.succeeded},
                           {"infer_per_s", s.requests_per_second()},
                           {"images_per_s", s.images_per_second()},
                           {"latency_ms",
                            {{"p50", s.Percentile(50)},
                             {"p90", s.Percentile(90)},
                             {"p95", s.Percentile(95)},
                             {"p99", s.Percentile(99)},
                             {"max", s.Percentile(100)}}},
                           {"errors", s.errors}};
    if (run.open_loop) {
      step["rate"] = s.step.rate;
      step["poisson"] = s.step.poisson;
    } else {
      step["concurrency"] = s.step.concurrency;
    }
    // Unknown server figures are left out rather than written as -1.
    if (s.server_queue_ms >= 0) step["server_queue_ms"] = s.server_queue_ms;
    if (s.server_compute_ms >= 0) step["server_compute_ms"] = s.server_compute_ms;
    if (s.server_batch >= 0) step["server_batch"] = s.server_batch;
    json["steps"].push_back(std::move(step));
  }
  return json.dump(2) + "\n";
}

}  // namespace convd::client
