// convload as a user runs it: the real binary against a real server on
// loopback, short steps, checking its JSON/CSV/SVG, its accounting against
// the server's own statistics, errors by status, and that it leaves no load
// behind when it exits.
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/file_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ConvloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repository_ = new std::string(MakeTempDir("convload_repository"));
    fs::copy("models/lenet5", fs::path(*repository_) / "lenet5", fs::copy_options::recursive);
    ServerOptions options = LoopbackOptions(*repository_);
    options.allow_client_shm = true;
    server_ = StartServer(options).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete repository_;
  }

  static ToolResult Convload(std::vector<std::string> args) {
    args.insert(args.begin(), {"client/convload", "lenet5", "--quiet"});
    return RunTool(args);
  }

  // Successful requests the server has counted for lenet5.
  static int64_t ServerSuccesses() {
    auto stub = Connect(server_->grpc_port());
    grpc::ClientContext context;
    inference::ModelStatisticsRequest request;
    request.set_name("lenet5");
    inference::ModelStatisticsResponse response;
    EXPECT_TRUE(stub->ModelStatistics(&context, request, &response).ok());
    return response.model_stats(0).inference_stats().success().count();
  }

  // Reads a --json report whose URL line names `transport` and whose every
  // step succeeded without errors; returns the requests measured in all.
  static int64_t CleanStepsRequests(const std::string& report_path, const std::string& transport) {
    const json report = json::parse(ReadFile(report_path).value());
    EXPECT_NE(report["url"].get<std::string>().find(transport), std::string::npos) << report["url"];
    int64_t measured = 0;
    for (const json& step : report["steps"]) {
      EXPECT_GT(step["requests"].get<int64_t>(), 0) << step;
      EXPECT_TRUE(step["errors"].empty()) << step;
      measured += step["requests"].get<int64_t>();
    }
    return measured;
  }

  static std::string* repository_;
  static Server* server_;
};
std::string* ConvloadTest::repository_ = nullptr;
Server* ConvloadTest::server_ = nullptr;

TEST_F(ConvloadTest, ClosedLoopSweepOverGrpcWithReports) {
  const std::string dir = MakeTempDir("convload_closed");
  const int64_t before = ServerSuccesses();
  ToolResult result = Convload({absl::StrCat("--url=127.0.0.1:", server_->grpc_port()),
                                "--concurrency=1:4:x2", "--batch=1,4", "--duration=700ms",
                                "--warmup=200ms", "--json=" + dir + "/r.json",
                                "--csv=" + dir + "/r.csv", "--plot=" + dir + "/r.svg"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // Load is gone once convload exits: the server's count stands still.
  const int64_t after = ServerSuccesses();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(ServerSuccesses(), after);

  const json report = json::parse(ReadFile(dir + "/r.json").value());
  EXPECT_EQ(report["mode"], "closed_loop");
  ASSERT_EQ(report["steps"].size(), 6u);  // concurrency 1 2 4, batch 1 and 4
  int64_t measured = 0;
  for (const json& step : report["steps"]) {
    const int64_t requests = step["requests"];
    measured += requests;
    EXPECT_GT(requests, 0) << step;
    EXPECT_TRUE(step["errors"].empty()) << step;
    EXPECT_NEAR(step["infer_per_s"].get<double>(), requests / step["seconds"].get<double>(), 1e-6);
    EXPECT_EQ(step["images_per_s"].get<double>(),
              step["infer_per_s"].get<double>() * step["batch"].get<int>());
    const json& latency = step["latency_ms"];
    EXPECT_GT(latency["p50"].get<double>(), 0);
    EXPECT_LE(latency["p50"], latency["p90"]);
    EXPECT_LE(latency["p90"], latency["p99"]);
    EXPECT_LE(latency["p99"], latency["max"]);
    // The server's view of the same window: it batched at least one image
    // per execution, and compute is part of what the client waited for.
    EXPECT_GE(step["server_batch"].get<double>(), 1.0) << step;
    EXPECT_GT(step["server_compute_ms"].get<double>(), 0) << step;
    EXPECT_LT(step["server_compute_ms"].get<double>(), latency["max"].get<double>()) << step;
  }
  // The server answered at least what convload measured (warm-ups add more).
  EXPECT_GE(after - before, measured);
  EXPECT_NE(result.out.find("closed loop"), std::string::npos) << result.out;
  const std::string csv = ReadFile(dir + "/r.csv").value();
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7);
  const std::string svg = ReadFile(dir + "/r.svg").value();
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find(">batch 4<"), std::string::npos);
}

TEST_F(ConvloadTest, OpenLoopOverHttpHoldsTheRate) {
  const std::string dir = MakeTempDir("convload_open");
  ToolResult result = Convload({absl::StrCat("--url=http://127.0.0.1:", server_->http_port()),
                                "--rate=80", "--poisson", "--duration=1500ms", "--warmup=200ms",
                                "--images=" + *repository_ + "/lenet5/samples",
                                "--json=" + dir + "/r.json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json report = json::parse(ReadFile(dir + "/r.json").value());
  EXPECT_EQ(report["mode"], "open_loop");
  EXPECT_EQ(report["input"], "2 image files");
  const json& step = report["steps"][0];
  EXPECT_EQ(step["rate"], 80.0);
  EXPECT_TRUE(step["errors"].empty()) << step;
  // LeNet answers in ~1 ms, so the server keeps up: the achieved rate is
  // the offered one up to Poisson noise (120 expected; sd ~11).
  EXPECT_GT(step["infer_per_s"].get<double>(), 80 * 0.6) << step;
  EXPECT_LT(step["infer_per_s"].get<double>(), 80 * 1.4) << step;
}

TEST_F(ConvloadTest, FailedRequestsAreCountedByStatus) {
  // A file that is not an image: every request is INVALID_ARGUMENT.
  const std::string dir = MakeTempDir("convload_errors");
  std::ofstream(dir + "/not-an-image.png") << "plain text, not a PNG";
  ToolResult result = Convload({absl::StrCat("--url=127.0.0.1:", server_->grpc_port()),
                                "--concurrency=2", "--duration=400ms", "--warmup=0s",
                                "--images=" + dir, "--json=" + dir + "/r.json"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("no request succeeded"), std::string::npos) << result.err;
  const json step = json::parse(ReadFile(dir + "/r.json").value())["steps"][0];
  EXPECT_EQ(step["requests"], 0);
  EXPECT_GT(step["errors"]["INVALID_ARGUMENT"].get<int64_t>(), 0) << step;
}

TEST_F(ConvloadTest, StreamingSendsOnModelStreamInfer) {
  const std::string dir = MakeTempDir("convload_stream");
  const int64_t before = ServerSuccesses();
  ToolResult result = Convload({absl::StrCat("--url=127.0.0.1:", server_->grpc_port()),
                                "--streaming", "--concurrency=1,3", "--batch=2", "--duration=600ms",
                                "--warmup=100ms", "--json=" + dir + "/r.json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const int64_t measured = CleanStepsRequests(dir + "/r.json", "(ModelStreamInfer)");
  EXPECT_GE(ServerSuccesses() - before, measured);

  // Failures come back in the stream and are counted (as UNKNOWN: stream
  // answers carry a message, no code).
  std::ofstream(dir + "/not-an-image.png") << "plain text, not a PNG";
  ToolResult failing = Convload({absl::StrCat("--url=127.0.0.1:", server_->grpc_port()),
                                 "--streaming", "--concurrency=2", "--duration=300ms",
                                 "--warmup=0s", "--images=" + dir, "--json=" + dir + "/f.json"});
  EXPECT_EQ(failing.exit_code, 1) << failing.err;
  const json step = json::parse(ReadFile(dir + "/f.json").value())["steps"][0];
  EXPECT_GT(step["errors"]["UNKNOWN"].get<int64_t>(), 0) << step;

  ToolResult over_http =
      Convload({absl::StrCat("--url=http://127.0.0.1:", server_->http_port()), "--streaming"});
  EXPECT_EQ(over_http.exit_code, 2);
  EXPECT_NE(over_http.err.find("--streaming needs a gRPC --url"), std::string::npos)
      << over_http.err;
}

TEST_F(ConvloadTest, SharedMemoryCarriesTheTensorsAndIsCleanedUp) {
  const std::string dir = MakeTempDir("convload_shm");
  for (const std::string& url : {absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                 absl::StrCat("http://127.0.0.1:", server_->http_port())}) {
    const int64_t before = ServerSuccesses();
    ToolResult result =
        Convload({"--url=" + url, "--shared-memory=system", "--concurrency=2", "--batch=3,1",
                  "--duration=500ms", "--warmup=100ms", "--json=" + dir + "/r.json"});
    ASSERT_EQ(result.exit_code, 0) << url << ": " << result.err;
    const int64_t measured = CleanStepsRequests(dir + "/r.json", "(system shared memory)");
    EXPECT_GE(ServerSuccesses() - before, measured) << url;

    // Nothing left behind: no region on the server, no object on the host.
    auto stub = Connect(server_->grpc_port());
    grpc::ClientContext context;
    inference::SystemSharedMemoryStatusResponse regions;
    ASSERT_TRUE(stub->SystemSharedMemoryStatus(&context, {}, &regions).ok());
    EXPECT_TRUE(regions.regions().empty()) << regions.ShortDebugString();
    for (const auto& entry : fs::directory_iterator("/dev/shm")) {
      EXPECT_FALSE(entry.path().filename().string().starts_with("convload_")) << entry.path();
    }
  }
}

TEST_F(ConvloadTest, RefusesUnboundedOrRemoteRuns) {
  const std::string url = absl::StrCat("--url=127.0.0.1:", server_->grpc_port());
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c :
       std::vector<Case>{{{"--url=10.1.2.3:8001"}, "not on loopback"},
                         {{url, "--duration=11m"}, "at most 10m"},
                         {{url, "--concurrency=1:4096:x2"}, "up to 1024"},
                         {{url, "--batch=65"}, "max_batch_size 64"},
                         {{url, "--concurrency=1:8:x1"}, "factor must be above 1"},
                         {{url, "--images=/no/such/folder"}, "no image file or folder"},
                         {{url, "--shared-memory=cuda"}, "convd has no CUDA shared memory"},
                         {{"--url=10.1.2.3:8001", "--allow-remote", "--shared-memory=system"},
                          "needs the server on this host"}}) {
    ToolResult result = Convload(c.args);
    EXPECT_EQ(result.exit_code, 2) << c.args.back() << ": " << result.err;
    EXPECT_NE(result.err.find(c.message), std::string::npos) << result.err;
  }
  ToolResult down = Convload({"--url=127.0.0.1:1"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("UNAVAILABLE"), std::string::npos) << down.err;
}

}  // namespace
}  // namespace convd::e2e
