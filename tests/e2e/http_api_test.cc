// The KServe v2 REST API end to end: a real server on loopback, real HTTP
// connections. Every endpoint; JSON and binary inference giving exactly the
// gRPC API's numbers; bad requests answered with the right code and a
// message naming the problem; keep-alive and 64 concurrent connections.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_util.h"
#include "client/http_connection.h"

namespace convd::e2e {
namespace {

using nlohmann::json;
using client::HttpCall;
using client::HttpConnection;
using client::HttpResult;


std::string JsonFloats(const std::vector<float>& values) {
  std::vector<std::string> text;
  for (float v : values) text.push_back(absl::StrFormat("%.9g", v));  // round-trips exactly
  return absl::StrCat("[", absl::StrJoin(text, ","), "]");
}

std::string LenetJsonRequest(const std::vector<float>& input, int rows,
                             const std::string& extra = "") {
  return absl::StrCat(R"({"id":"json-1","inputs":[{"name":"input","shape":[)", rows,
                      R"(,1,28,28],"datatype":"FP32","data":)", JsonFloats(input), "}]", extra,
                      "}");
}

class HttpApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repository_ = new std::string(MakeTempDir("http_api_repository"));
    AddModel(*repository_, "lenet", "lenet5", kLenetConfig, kFashionLabels);
    ServerOptions options = LoopbackOptions(*repository_);
    options.model_control = ModelControl::kExplicit;
    options.triton_metrics = true;
    server_ = StartServer(options).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete repository_;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static int port() { return server_->http_port(); }

  static HttpResult Get(const std::string& target) { return HttpCall(port(), "GET", target); }

  // The gRPC API's answer for the same rows.
  static inference::ModelInferResponse GrpcInfer(const inference::ModelInferRequest& request) {
    auto stub = Connect(server_->grpc_port());
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    const grpc::Status status = stub->ModelInfer(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  static std::string* repository_;
  static Server* server_;
};

std::string* HttpApiTest::repository_ = nullptr;
Server* HttpApiTest::server_ = nullptr;

TEST_F(HttpApiTest, ServerHealthAndMetadata) {
  HttpResult server = Get("/v2");
  ASSERT_EQ(server.status, 200) << server.body;
  EXPECT_EQ(server.headers["content-type"], "application/json");
  const json metadata = json::parse(server.body);
  EXPECT_EQ(metadata["name"], "convd");
  EXPECT_NE(std::find(metadata["extensions"].begin(), metadata["extensions"].end(),
                      "classification"),
            metadata["extensions"].end());
  EXPECT_EQ(Get("/v2/health/live").status, 200);
  EXPECT_EQ(Get("/v2/health/ready").status, 200);

  for (const std::string target : {"/v2/models/lenet", "/v2/models/lenet/versions/1"}) {
    HttpResult model = Get(target);
    ASSERT_EQ(model.status, 200) << model.body;
    const json m = json::parse(model.body);
    EXPECT_EQ(m["name"], "lenet");
    EXPECT_EQ(m["versions"], json::array({"1"}));
    EXPECT_EQ(m["inputs"][0]["name"], "input");
    EXPECT_EQ(m["inputs"][0]["datatype"], "FP32");
    EXPECT_EQ(m["inputs"][0]["shape"], json::array({-1, 1, 28, 28}));
    EXPECT_EQ(m["outputs"][0]["shape"], json::array({-1, 10}));
  }
  EXPECT_EQ(Get("/v2/models/lenet/ready").status, 200);
  EXPECT_EQ(Get("/v2/models/lenet/versions/1/ready").status, 200);
  EXPECT_EQ(Get("/v2/models/lenet/versions/7/ready").status, 404);
}

TEST_F(HttpApiTest, ConfigStatisticsAndRepositoryIndex) {
  HttpResult config = Get("/v2/models/lenet/config");
  ASSERT_EQ(config.status, 200) << config.body;
  const json c = json::parse(config.body);
  EXPECT_EQ(c["name"], "lenet");
  EXPECT_EQ(c["max_batch_size"], 16);  // numbers, as perf_analyzer reads them
  EXPECT_EQ(c["input"][0]["dims"], json::array({1, 28, 28}));
  EXPECT_EQ(c["input"][0]["data_type"], "TYPE_FP32");
  EXPECT_EQ(c["dynamic_batching"]["max_queue_delay_microseconds"], 1000);
  EXPECT_FALSE(c.contains("sequence_batching"));

  ASSERT_EQ(HttpCall(port(), "POST", "/v2/models/lenet/infer",
                     LenetJsonRequest(testing::RandomVector(784), 1))
                .status,
            200);
  HttpResult stats = Get("/v2/models/lenet/stats");
  ASSERT_EQ(stats.status, 200) << stats.body;
  const json s = json::parse(stats.body);
  ASSERT_EQ(s["model_stats"].size(), 1u);
  EXPECT_EQ(s["model_stats"][0]["name"], "lenet");
  EXPECT_GE(s["model_stats"][0]["inference_stats"]["success"]["count"].get<int64_t>(), 1);
  EXPECT_TRUE(s["model_stats"][0]["inference_stats"]["fail"]["count"].is_number());
  HttpResult all = Get("/v2/models/stats");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(json::parse(all.body)["model_stats"][0]["name"], "lenet");

  HttpResult index = HttpCall(port(), "POST", "/v2/repository/index", "{}");
  ASSERT_EQ(index.status, 200) << index.body;
  const json i = json::parse(index.body);
  ASSERT_TRUE(i.is_array());
  EXPECT_EQ(i[0]["name"], "lenet");
  EXPECT_EQ(i[0]["state"], "READY");
}

TEST_F(HttpApiTest, JsonAndBinaryInferenceGiveTheGrpcNumbers) {
  const std::vector<float> input = testing::RandomVector(3 * 28 * 28);
  const std::vector<float> expected =
      OutputFloats(GrpcInfer(FloatRequest("lenet", {3, 1, 28, 28}, input)));
  ASSERT_EQ(expected.size(), 30u);

  HttpResult json_result =
      HttpCall(port(), "POST", "/v2/models/lenet/infer", LenetJsonRequest(input, 3));
  ASSERT_EQ(json_result.status, 200) << json_result.body;
  const json response = json::parse(json_result.body);
  EXPECT_EQ(response["model_name"], "lenet");
  EXPECT_EQ(response["model_version"], "1");
  EXPECT_EQ(response["id"], "json-1");
  EXPECT_EQ(response["outputs"][0]["name"], "prob");
  EXPECT_EQ(response["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(response["outputs"][0]["shape"], json::array({3, 10}));
  EXPECT_EQ(response["outputs"][0]["data"].get<std::vector<float>>(), expected);

  // Binary input and binary output (the extension tritonclient uses).
  const std::string header =
      R"({"inputs":[{"name":"input","shape":[3,1,28,28],"datatype":"FP32",)"
      R"("parameters":{"binary_data_size":9408}}],)"
      R"("outputs":[{"name":"prob","parameters":{"binary_data":true}}]})";
  HttpResult binary =
      HttpCall(port(), "POST", "/v2/models/lenet/infer", header + FloatBytes(input),
               {{"Inference-Header-Content-Length", std::to_string(header.size())}});
  ASSERT_EQ(binary.status, 200) << binary.body;
  EXPECT_EQ(binary.headers["content-type"], "application/octet-stream");
  const size_t json_size = std::stoul(binary.headers["inference-header-content-length"]);
  const json binary_header = json::parse(binary.body.substr(0, json_size));
  EXPECT_EQ(binary_header["outputs"][0]["parameters"]["binary_data_size"], 120);
  EXPECT_FALSE(binary_header["outputs"][0].contains("data"));
  EXPECT_EQ(FloatsFromBytes(binary.body.substr(json_size)), expected);

  // binary_data_output on the request: every output binary.
  HttpResult all_binary = HttpCall(
      port(), "POST", "/v2/models/lenet/infer",
      LenetJsonRequest(input, 3, R"(,"parameters":{"binary_data_output":true})"));
  ASSERT_EQ(all_binary.status, 200) << all_binary.body;
  const size_t size = std::stoul(all_binary.headers["inference-header-content-length"]);
  EXPECT_EQ(FloatsFromBytes(all_binary.body.substr(size)), expected);
}

TEST_F(HttpApiTest, ClassificationAndLayerStatsAsOverGrpc) {
  const std::vector<float> input = testing::RandomVector(2 * 28 * 28);
  inference::ModelInferRequest request = FloatRequest("lenet", {2, 1, 28, 28}, input);
  auto* output = request.add_outputs();
  output->set_name("prob");
  (*output->mutable_parameters())["classification"].set_int64_param(3);
  const std::vector<std::string> expected =
      BytesElements(GrpcInfer(request).raw_output_contents(0));
  ASSERT_EQ(expected.size(), 6u);

  HttpResult result = HttpCall(
      port(), "POST", "/v2/models/lenet/infer",
      LenetJsonRequest(input, 2,
                       R"(,"outputs":[{"name":"prob","parameters":{"classification":3}}],)"
                       R"("parameters":{"layer_stats":true})"));
  ASSERT_EQ(result.status, 200) << result.body;
  const json response = json::parse(result.body);
  EXPECT_EQ(response["outputs"][0]["datatype"], "BYTES");
  EXPECT_EQ(response["outputs"][0]["shape"], json::array({2, 3}));
  EXPECT_EQ(response["outputs"][0]["data"].get<std::vector<std::string>>(), expected);
  EXPECT_NE(expected[0].find(':'), std::string::npos);
  const json stats = json::parse(response["parameters"]["layer_stats"].get<std::string>());
  EXPECT_FALSE(stats["layers"].empty());
  EXPECT_GE(response["parameters"]["batch_size"].get<int>(), 2);
}

TEST_F(HttpApiTest, BadRequestsGetTheRightCodeAndAMessageNamingTheProblem) {
  const std::string good = LenetJsonRequest(testing::RandomVector(784), 1);
  const struct {
    std::string method, target, body;
    std::vector<std::pair<std::string, std::string>> headers;
    int status;
    std::string message;
  } cases[] = {
      {"POST", "/v2/models/nope/infer", good, {}, 404, "unknown model 'nope'"},
      {"GET", "/v2/models/nope", "", {}, 404, "unknown model 'nope'"},
      {"GET", "/v2/models/nope/config", "", {}, 404, "unknown model 'nope'"},
      {"POST", "/v2/models/lenet/versions/9/infer", good, {}, 404, "version"},
      {"POST", "/v2/models/lenet/infer", "{\"inputs\":", {}, 400, "not valid JSON"},
      {"POST", "/v2/models/lenet/infer", "", {}, 400, "not valid JSON"},
      {"POST", "/v2/models/lenet/infer",
       R"({"inputs":[{"name":"image","shape":[1,1,28,28],"datatype":"FP32","data":[0]}]})", {},
       400, "shape holds 784 elements but 'data' has 1"},
      {"POST", "/v2/models/lenet/infer",
       R"({"inputs":[{"name":"image","shape":[1,3],"datatype":"FP32","data":[0,1,2]}]})", {}, 400,
       "unknown input 'image'"},
      {"POST", "/v2/models/lenet/infer",
       R"({"inputs":[{"name":"input","shape":[1,1,28,27],"datatype":"FP32","data":)" +
           JsonFloats(std::vector<float>(756, 0.5f)) + "}]}",
       {}, 400, "shape"},
      {"POST", "/v2/models/lenet/infer",
       LenetJsonRequest(std::vector<float>(784, 0.5f), 1,
                        R"(,"outputs":[{"name":"prob","parameters":{"classification":11}}])"),
       {}, 400, "classification"},
      {"POST", "/v2/models/lenet/infer", good, {{"Inference-Header-Content-Length", "x"}}, 400,
       "Inference-Header-Content-Length must be a byte count"},
      {"POST", "/v2/models/lenet/infer", good, {{"Content-Encoding", "br"}}, 415,
       "Content-Encoding 'br' is not supported"},
      {"POST", "/v2/models/lenet/infer", good, {{"Content-Encoding", "gzip"}}, 400,
       "the gzip body is corrupt"},
      {"GET", "/v2/models/lenet/infer", "", {}, 405, "GET is not allowed"},
      {"PUT", "/v2/logging", "", {}, 405, "use GET, POST"},
      {"POST", "/v2/logging", R"({"log_verbose_level":-1})", {}, 400, "non-negative integer"},
      {"POST", "/v2/logging", R"({"log_info":false,"log_file":"x.log"})", {}, 400,
       "convd logs to stderr"},
      {"PUT", "/v2/trace/setting", "", {}, 405, "use GET, POST"},
      {"POST", "/v2/trace/setting", R"({"trace_level":"TIMESTAMPS"})", {}, 400,
       "tracing needs a trace file; start convd with --trace-file"},
      {"POST", "/v2/trace/setting", R"({"trace_rate":true})", {}, 400,
       "'trace_rate' must be a string, an array of strings or null"},
      {"POST", "/v2/trace/setting", "[1]", {}, 400, "a JSON object of trace settings"},
      {"GET", "/v2/models/nope/trace/setting", "", {}, 404, "unknown model 'nope'"},
      {"POST", "/v2/models/lenet/trace/setting", R"({"trace_count":"-5"})", {}, 400,
       "'trace_count' must be an integer in [-1, 2147483647]"},
      {"DELETE", "/v2/health/live", "", {}, 405, "use GET"},
      {"GET", "/v3/models", "", {}, 404, "no such endpoint"},
      {"GET", "/v2/models/lenet/frobnicate", "", {}, 404, "no such endpoint"},
      {"GET", "/v2/models/le%zznet", "", {}, 400, "malformed URL"},
      {"POST", "/v2/repository/models/nope/load", "", {}, 404, "nope"},
      {"POST", "/v2/repository/models/lenet/load",
       R"({"parameters":{"config":"{\"max_batch_size\": -1}"}})", {}, 400,
       "max_batch_size must be in [0, 4096]; got -1"},
      {"POST", "/v2/repository/models/lenet/load", R"({"parameters":{"config":"{"}})", {}, 400,
       "load parameter 'config': the config does not parse as a ModelConfig in JSON"},
      {"POST", "/v2/repository/models/lenet/load", R"({"parameters":{"file:1/model.onnx":"A"}})",
       {}, 501, "load parameter 'file:1/model.onnx'"},
  };
  for (const auto& c : cases) {
    HttpResult result = HttpCall(port(), c.method, c.target, c.body, c.headers);
    EXPECT_EQ(result.status, c.status) << c.method << " " << c.target << ": " << result.body;
    json error;
    ASSERT_NO_THROW(error = json::parse(result.body)) << result.body;
    ASSERT_TRUE(error.contains("error")) << result.body;
    EXPECT_NE(error["error"].get<std::string>().find(c.message), std::string::npos)
        << c.method << " " << c.target << ": " << result.body;
  }
  // The server keeps serving everyone else; the refused log settings changed nothing.
  EXPECT_EQ(HttpCall(port(), "POST", "/v2/models/lenet/infer", good).status, 200);
  const json logging = json::parse(HttpCall(port(), "GET", "/v2/logging").body);
  EXPECT_EQ(logging["log_info"], true) << logging;
  const json trace = json::parse(HttpCall(port(), "GET", "/v2/models/lenet/trace/setting").body);
  EXPECT_EQ(trace["trace_count"], "-1") << trace;
  EXPECT_EQ(trace["trace_level"], json::array({"OFF"})) << trace;
}

TEST_F(HttpApiTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpConnection connection(port());
  const std::string request = LenetJsonRequest(testing::RandomVector(784), 1);
  for (int i = 0; i < 100; ++i) {
    HttpResult result = i % 2 ? connection.Send("GET", "/v2/health/ready")
                              : connection.Send("POST", "/v2/models/lenet/infer", request);
    ASSERT_EQ(result.status, 200) << "request " << i << ": " << result.body;
  }
}

TEST_F(HttpApiTest, SixtyFourConcurrentConnectionsEachGetTheirOwnResult) {
  constexpr int kClients = 64, kRequests = 3;
  std::vector<std::vector<float>> inputs, expected;
  for (int i = 0; i < kClients; ++i) {
    inputs.push_back(testing::RandomVector(784));
    expected.push_back(OutputFloats(GrpcInfer(FloatRequest("lenet", {1, 1, 28, 28}, inputs[i]))));
  }
  std::vector<int> successes(kClients, 0);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      HttpConnection connection(port());
      for (int r = 0; r < kRequests; ++r) {
        HttpResult result =
            connection.Send("POST", "/v2/models/lenet/infer", LenetJsonRequest(inputs[i], 1));
        if (result.status != 200) continue;
        const std::vector<float> got =
            json::parse(result.body)["outputs"][0]["data"].get<std::vector<float>>();
        bool close = got.size() == expected[i].size();
        for (size_t j = 0; close && j < got.size(); ++j) {
          close = std::abs(got[j] - expected[i][j]) <= 1e-5f * (1 + std::abs(expected[i][j]));
        }
        successes[i] += close;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(successes[i], kRequests) << "client " << i;
}

TEST_F(HttpApiTest, PrometheusMetricsMoveWithTraffic) {
  const int metrics_port = server_->metrics_port();
  ASSERT_GT(metrics_port, 0);
  auto scrape = [&] {
    HttpResult result = HttpCall(metrics_port, "GET", "/metrics");
    EXPECT_EQ(result.status, 200);
    EXPECT_EQ(result.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    return result.body;
  };
  const std::string labels = R"(model="lenet",version="1")";
  const std::string before = scrape();
  for (const char* type : {"counter", "histogram", "gauge"}) {
    EXPECT_NE(before.find(absl::StrCat(" ", type, "\n")), std::string::npos) << type;
  }
  const double success =
      PrometheusSample(before, "convd_inference_request_success_total{" + labels + "}");
  const double images = PrometheusSample(before, "convd_inference_count_total{" + labels + "}");
  const double requests =
      PrometheusSample(before, "convd_inference_request_duration_seconds_count{" + labels + "}");
  ASSERT_GE(success, 0) << before;
  // Triton's names (--triton-metrics) count the same requests.
  const double triton_success =
      PrometheusSample(before, "nv_inference_request_success{" + labels + "}");
  const std::string triton_other_series =
      "nv_inference_request_failure{" + labels + R"(,reason="OTHER"})";
  const double triton_other = std::max(0.0, PrometheusSample(before, triton_other_series));
  ASSERT_EQ(triton_success, success) << before;

  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(HttpCall(port(), "POST", "/v2/models/lenet/infer",
                       LenetJsonRequest(testing::RandomVector(2 * 784), 2))
                  .status,
              200);
  }
  ASSERT_EQ(HttpCall(port(), "POST", "/v2/models/lenet/infer",
                     R"({"inputs":[{"name":"bad","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})")
                .status,
            400);
  ASSERT_EQ(HttpCall(port(), "POST", "/v2/models/absent/infer",
                     LenetJsonRequest(testing::RandomVector(784), 1))
                .status,
            404);

  const std::string after = scrape();
  EXPECT_EQ(PrometheusSample(after, "convd_inference_request_success_total{" + labels + "}"),
            success + 3);
  EXPECT_EQ(PrometheusSample(after, "convd_inference_count_total{" + labels + "}"), images + 6);
  EXPECT_EQ(PrometheusSample(after, "nv_inference_request_success{" + labels + "}"),
            triton_success + 3);
  EXPECT_EQ(PrometheusSample(after, "nv_inference_count{" + labels + "}"), images + 6);
  EXPECT_EQ(PrometheusSample(after, triton_other_series), triton_other + 1);
  EXPECT_EQ(
      PrometheusSample(after, "convd_inference_request_duration_seconds_count{" + labels + "}"),
      requests + 3);
  EXPECT_GE(PrometheusSample(after, "convd_inference_request_failure_total{" + labels +
                                        R"(,reason="INVALID_ARGUMENT"})"),
            1);
  EXPECT_GE(PrometheusSample(
                after,
                R"(convd_inference_request_failure_total{model="",version="",reason="NOT_FOUND"})"),
            1);
  EXPECT_EQ(PrometheusSample(after, "convd_inference_queue_depth{" + labels + "}"), 0);
  EXPECT_GT(PrometheusSample(after, "convd_model_memory_bytes{" + labels + R"(,device="cpu"})"), 0);
  // A CPU server's models hold nothing on a device.
  EXPECT_EQ(after.find(labels + R"(,device="gpu")"), std::string::npos) << after;
  const double batches =
      PrometheusSample(after, "convd_inference_batch_size_count{" + labels + "}");
  EXPECT_GE(batches, 3);
  EXPECT_EQ(
      PrometheusSample(after, "convd_inference_batch_size_bucket{" + labels + R"(,le="+Inf"})"),
      batches);
  EXPECT_EQ(PrometheusSample(after, "convd_server_ready"), 1);
  EXPECT_EQ(HttpCall(metrics_port, "GET", "/other").status, 404);
}

TEST(HttpServerLimitsTest, OversizedBodiesGet413AndUnloadLoadWork) {
  const std::string repository = MakeTempDir("http_limits_repository");
  AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  ServerOptions options;
  options.model_repository = repository;
  options.grpc_address = options.http_address = "127.0.0.1";
  options.grpc_port = options.http_port = 0;
  options.http_max_body_bytes = 4096;
  options.metrics_port = 0;
  options.model_control = ModelControl::kExplicit;
  auto server = Server::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->http_port();
  HttpResult big = HttpCall(port, "POST", "/v2/models/lenet/infer",
                            LenetJsonRequest(testing::RandomVector(784), 1));
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_NE(big.body.find("exceeds 4096 bytes"), std::string::npos) << big.body;

  EXPECT_EQ(HttpCall(port, "POST", "/v2/repository/models/lenet/unload").status, 200);
  EXPECT_NE(HttpCall(port, "GET", "/v2/models/lenet/ready").status, 200);
  HttpResult load = HttpCall(port, "POST", "/v2/repository/models/lenet/load", "{}");
  EXPECT_EQ(load.status, 200) << load.body;
  EXPECT_EQ(HttpCall(port, "GET", "/v2/models/lenet/ready").status, 200);
}

}  // namespace
}  // namespace convd::e2e
