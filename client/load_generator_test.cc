// convload's parts that need no server: sweeps, percentiles, the reports.
// (tests/e2e:convload_test runs the whole tool against a real server.)
#include <random>

#include "client/load_generator.h"
#include "client/load_report.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace convd::client {
namespace {

TEST(ParseSweepTest, ValuesListsAndRanges) {
  EXPECT_EQ(*ParseSweep("8"), (std::vector<double>{8}));
  EXPECT_EQ(*ParseSweep("1,4, 16"), (std::vector<double>{1, 4, 16}));
  EXPECT_EQ(*ParseSweep("1:64:x2"), (std::vector<double>{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(*ParseSweep("1:40:x2"), (std::vector<double>{1, 2, 4, 8, 16, 32}));
  EXPECT_EQ(*ParseSweep("100:500:+100"), (std::vector<double>{100, 200, 300, 400, 500}));
  EXPECT_EQ(*ParseSweep("0.5:1.5:+0.5"), (std::vector<double>{0.5, 1.0, 1.5}));
  for (const char* bad : {"", "0", "-1", "x", "1:8", "1:8:2", "1:8:x1", "1:8:x0.5", "1:8:+0",
                          "1,,2", "1:1000:+1", "nan", "inf"}) {
    auto sweep = ParseSweep(bad);
    EXPECT_FALSE(sweep.ok()) << "'" << bad << "'";
    if (!sweep.ok()) EXPECT_NE(sweep.status().message().find("bad sweep"), std::string::npos);
  }
}

TEST(StepResultTest, NearestRankPercentiles) {
  StepResult result;
  // 1..100 shuffled: pN is N.
  for (int i = 1; i <= 100; ++i) result.latencies_ms.push_back(i);
  std::shuffle(result.latencies_ms.begin(), result.latencies_ms.end(),
               std::mt19937(std::random_device{}()));
  EXPECT_EQ(result.Percentile(50), 50);
  EXPECT_EQ(result.Percentile(90), 90);
  EXPECT_EQ(result.Percentile(99), 99);
  EXPECT_EQ(result.Percentile(100), 100);
  EXPECT_EQ(result.Percentile(0), 1);
  StepResult one;
  one.latencies_ms = {7.5};
  EXPECT_EQ(one.Percentile(99), 7.5);
  EXPECT_EQ(StepResult().Percentile(50), 0);
}

std::vector<StepResult> TwoBatchSizes() {
  std::vector<StepResult> steps;
  for (int batch : {1, 8}) {
    for (int concurrency : {1, 2, 4, 8, 16}) {
      StepResult s;
      s.step.batch = batch;
      s.step.concurrency = concurrency;
      s.seconds = 2;
      for (int i = 0; i < 100 * concurrency; ++i) s.latencies_ms.push_back(1 + i % 10);
      s.succeeded = static_cast<int64_t>(s.latencies_ms.size());
      if (concurrency == 16) s.errors["UNAVAILABLE"] = 3;
      s.server_queue_ms = 0.5;
      s.server_compute_ms = 1.25;
      s.server_batch = 2;
      steps.push_back(s);
    }
  }
  return steps;
}

TEST(LoadReportTest, TableCsvAndJsonCarryEveryStep) {
  const LoadRun run{"lenet5", "grpc://127.0.0.1:8001", "random FP32 [1, 28, 28]", false};
  const std::vector<StepResult> steps = TwoBatchSizes();
  const std::string table = RenderTable(run, steps);
  EXPECT_NE(table.find("UNAVAILABLE:3"), std::string::npos) << table;
  EXPECT_NE(table.find("closed loop"), std::string::npos);

  const std::string csv = RenderCsv(run, steps);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 11);  // header + 10 steps
  EXPECT_EQ(csv.rfind("concurrency,batch,", 0), 0u);
  EXPECT_NE(csv.find("\n16,8,2.000,1600,800.000,6400.000,"), std::string::npos) << csv;

  const auto json = nlohmann::json::parse(RenderJson(run, steps));
  ASSERT_EQ(json["steps"].size(), 10u);
  EXPECT_EQ(json["mode"], "closed_loop");
  EXPECT_EQ(json["steps"][4]["errors"]["UNAVAILABLE"], 3);
  EXPECT_EQ(json["steps"][9]["images_per_s"], 6400.0);
  EXPECT_EQ(json["steps"][0]["latency_ms"]["p50"], 5.0);
}

TEST(LoadReportTest, SvgHasALinePerBatchSizeInEachPanel) {
  const LoadRun run{"lenet5", "grpc://127.0.0.1:8001", "a <b> & c", false};
  const std::string svg = RenderSvgPlot(run, TwoBatchSizes());
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>\n"), std::string::npos);
  size_t lines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos;
       at = svg.find("<polyline", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 4u);  // 2 batch sizes x (throughput, p99)
  size_t points = 0;
  for (size_t at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) {
    ++points;
  }
  EXPECT_EQ(points, 20u);
  EXPECT_NE(svg.find("a &lt;b&gt; &amp; c"), std::string::npos) << "text is escaped";
  EXPECT_NE(svg.find("concurrency (log scale)"), std::string::npos);
  EXPECT_NE(svg.find(">batch 8<"), std::string::npos);
}

}  // namespace
}  // namespace convd::client
