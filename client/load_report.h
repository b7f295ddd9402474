// convload's results: the table printed at the end, and the CSV, JSON and
// SVG files it writes on request. One row per step.
#ifndef CONVD_CLIENT_LOAD_REPORT_H_
#define CONVD_CLIENT_LOAD_REPORT_H_

#include <string>
#include <vector>

#include "client/load_generator.h"

namespace convd::client {

// What the run was, for the reports' headers.
struct LoadRun {
  std::string model;
  std::string url;    // "grpc://127.0.0.1:8001"
  std::string input;  // "random FP32 [1, 28, 28]" or "3 images"
  bool open_loop = false;
};

std::string RenderTable(const LoadRun& run, const std::vector<StepResult>& steps);
std::string RenderCsv(const LoadRun& run, const std::vector<StepResult>& steps);
std::string RenderJson(const LoadRun& run, const std::vector<StepResult>& steps);
// Throughput (images/s) and p99 latency against concurrency (or rate), one
// line per batch size, as a standalone SVG document.
std::string RenderSvgPlot(const LoadRun& run, const std::vector<StepResult>& steps);

// "UNAVAILABLE:3 CLIENT_BACKLOG:1", or "0".
std::string ErrorSummary(const StepResult& step);

}  // namespace convd::client

#endif  // CONVD_CLIENT_LOAD_REPORT_H_
