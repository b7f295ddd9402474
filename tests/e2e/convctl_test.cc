// convctl as a user runs it: the real binary against a real server on
// loopback, over gRPC and HTTP, checking what it prints, its JSON, and its
// exit status and message for each kind of failure.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "client/npy.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ConvctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The bundled LeNet-5 (ONNX, labels, sample images), as `make serve` has it.
    repository_ = new std::string(MakeTempDir("convctl_repository"));
    fs::copy("models/lenet5", fs::path(*repository_) / "lenet5", fs::copy_options::recursive);
    ServerOptions options = LoopbackOptions(*repository_);
    options.model_control = ModelControl::kExplicit;
    options.response_cache_bytes = 1 << 20;  // for models whose config enables it
    server_ = StartServer(options).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete repository_;
  }

  static std::string GrpcUrl() { return absl::StrCat("127.0.0.1:", server_->grpc_port()); }
  static std::string HttpUrl() { return absl::StrCat("http://127.0.0.1:", server_->http_port()); }

  static ToolResult Convctl(const std::string& url, std::vector<std::string> args) {
    args.insert(args.begin(), {"client/convctl", "--url=" + url});
    return RunTool(args);
  }

  static std::string* repository_;
  static Server* server_;
};
std::string* ConvctlTest::repository_ = nullptr;
Server* ConvctlTest::server_ = nullptr;

TEST_F(ConvctlTest, HealthOverBothProtocols) {
  for (const std::string& url : {GrpcUrl(), HttpUrl()}) {
    ToolResult result = Convctl(url, {"health"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("live, ready"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("lenet5"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("READY"), std::string::npos) << result.out;
    ToolResult as_json = Convctl(url, {"health", "--json"});
    ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
    const json health = json::parse(as_json.out);
    EXPECT_TRUE(health["live"].get<bool>());
    EXPECT_TRUE(health["ready"].get<bool>());
    EXPECT_EQ(health["models"][0]["name"], "lenet5");
  }
}

TEST_F(ConvctlTest, MetadataAndConfig) {
  for (const std::string& url : {GrpcUrl(), HttpUrl()}) {
    ToolResult result = Convctl(url, {"metadata", "lenet5", "--json"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json metadata = json::parse(result.out);
    EXPECT_EQ(metadata["inputs"][0]["shape"], json::parse("[-1, 1, 28, 28]"));
    EXPECT_EQ(metadata["outputs"][0]["name"], "prob");
    ToolResult table = Convctl(url, {"metadata", "lenet5"});
    EXPECT_NE(table.out.find("[-1, 1, 28, 28]"), std::string::npos) << table.out;
    ToolResult config = Convctl(url, {"config", "lenet5"});
    ASSERT_EQ(config.exit_code, 0) << config.err;
    EXPECT_NE(config.out.find("max_batch_size: 64"), std::string::npos) << config.out;
  }
}

TEST_F(ConvctlTest, ClassifiesTheBundledSamplesAlikeOverBothProtocols) {
  const std::string boot = *repository_ + "/lenet5/samples/ankle-boot.png";
  const std::string pullover = *repository_ + "/lenet5/samples/pullover.png";
  json results[2];
  int i = 0;
  for (const std::string& url : {GrpcUrl(), HttpUrl()}) {
    ToolResult result = Convctl(url, {"classify", "lenet5", boot, pullover, "-k", "3", "--json"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    results[i] = json::parse(result.out)["results"];
    ASSERT_EQ(results[i].size(), 2u);
    EXPECT_EQ(results[i][0]["classes"][0]["label"], "Ankle boot");
    EXPECT_EQ(results[i][0]["classes"][0]["index"], 9);
    EXPECT_EQ(results[i][1]["classes"][0]["label"], "Pullover");
    EXPECT_EQ(results[i][1]["classes"].size(), 3u);
    ++i;
  }
  EXPECT_EQ(results[0], results[1]);  // the same scores either way

  ToolResult table = Convctl(GrpcUrl(), {"classify", "lenet5", boot, "--stats", "-k", "99"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("Ankle boot"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("   10  "), std::string::npos) << "-k above the classes shows all 10";
  EXPECT_NE(table.out.find("model lenet5, batch 1"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("total"), std::string::npos) << table.out;
}

TEST_F(ConvctlTest, InferSendsTheNpyAndWritesTheOutput) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  const int rows = 3;
  std::vector<float> pixels(rows * 28 * 28);
  for (float& p : pixels) p = uniform(rng);
  const std::string dir = MakeTempDir("convctl_infer");
  client::NpyArray input{"FP32", {rows, 1, 28, 28},
                         std::string(reinterpret_cast<const char*>(pixels.data()),
                                     pixels.size() * sizeof(float))};
  ASSERT_TRUE(client::WriteNpy(dir + "/in.npy", input).ok());

  // The same rows straight over gRPC: what convctl must reproduce.
  auto stub = Connect(server_->grpc_port());
  grpc::ClientContext context;
  inference::ModelInferResponse direct;
  ASSERT_TRUE(stub->ModelInfer(&context, FloatRequest("lenet5", {rows, 1, 28, 28}, pixels), &direct)
                  .ok());
  const std::vector<float> expected = OutputFloats(direct);

  for (const std::string& url : {GrpcUrl(), HttpUrl()}) {
    const std::string out_path = dir + "/out.npy";
    ToolResult result =
        Convctl(url, {"infer", "lenet5", "--input", dir + "/in.npy", "--output", out_path});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("FP32 [3, 10]"), std::string::npos) << result.out;
    auto output = client::ReadNpy(out_path);
    ASSERT_TRUE(output.ok()) << output.status();
    EXPECT_EQ(output->shape, (std::vector<int64_t>{rows, 10}));
    ASSERT_EQ(output->data.size(), expected.size() * sizeof(float));
    EXPECT_EQ(std::memcmp(output->data.data(), expected.data(), output->data.size()), 0) << url;

    ToolResult as_json = Convctl(url, {"infer", "lenet5", "--random", "--batch", "2", "--json"});
    ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
    const json outputs = json::parse(as_json.out)["outputs"];
    EXPECT_EQ(outputs[0]["shape"], json::parse("[2, 10]"));
    double row_sum = 0;
    for (int c = 0; c < 10; ++c) row_sum += outputs[0]["data"][c].get<double>();
    EXPECT_NEAR(row_sum, 1.0, 1e-5) << "a softmax row";
  }
}

TEST_F(ConvctlTest, StatsCountTheRequests) {
  ASSERT_EQ(Convctl(GrpcUrl(), {"infer", "lenet5", "--random"}).exit_code, 0);
  ToolResult result = Convctl(HttpUrl(), {"stats", "lenet5", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json stats = json::parse(result.out)["model_stats"][0];
  EXPECT_EQ(stats["name"], "lenet5");
  EXPECT_GE(stats["inference_stats"]["success"]["count"].get<int64_t>(), 1);
  ToolResult table = Convctl(GrpcUrl(), {"stats"});
  EXPECT_NE(table.out.find("queue ms"), std::string::npos) << table.out;
}

TEST_F(ConvctlTest, StatsShowResponseCacheHitsAndBatchesThatRan) {
  // lenet5 with the response cache, through a load with a config.
  ToolResult config = Convctl(GrpcUrl(), {"config", "lenet5", "--json"});
  ASSERT_EQ(config.exit_code, 0) << config.err;
  json cached = json::parse(config.out);
  cached["response_cache"] = {{"enable", true}};
  const std::string dir = MakeTempDir("convctl_cache");
  const std::string config_file = dir + "/config.json";
  std::ofstream(config_file) << cached.dump();
  ASSERT_EQ(Convctl(HttpUrl(), {"load", "lenet5", "--config", config_file}).exit_code, 0);

  client::NpyArray image{"FP32", {1, 1, 28, 28}, ""};
  const std::vector<float> pixels = testing::RandomVector(784);
  image.data.assign(reinterpret_cast<const char*>(pixels.data()), pixels.size() * sizeof(float));
  const std::string input = dir + "/image.npy";
  ASSERT_TRUE(client::WriteNpy(input, image).ok());
  for (int i = 0; i < 3; ++i) {  // a run, then two answers from the cache
    ToolResult result = Convctl(GrpcUrl(), {"infer", "lenet5", "--input", input});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
  ToolResult table = Convctl(GrpcUrl(), {"stats", "lenet5"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("cache hits"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("2 of 3"), std::string::npos) << table.out;
  // 3 images, 1 batch of 1: the average counts the batch that ran.
  EXPECT_NE(table.out.find(" 1.00 "), std::string::npos) << table.out;
  ASSERT_EQ(Convctl(GrpcUrl(), {"load", "lenet5"}).exit_code, 0);  // config.pbtxt again
}

TEST_F(ConvctlTest, FailuresAreOneLineAndANonZeroExit) {
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"metadata", "absent"}, 1, "NOT_FOUND"},
      {{"classify", "lenet5", "/no/such/image.png"}, 1, "cannot read image /no/such/image.png"},
      {{"classify", "lenet5", "client/testdata/uint8_4.txt"}, 1,
       "0=client/testdata/uint8_4.txt"},
      {{"infer", "lenet5"}, 1, "exactly one of --input FILE.npy or --random"},
      {{"infer", "lenet5", "--input", "client/testdata/fortran.npy"}, 1, "Fortran order"},
      {{"frobnicate"}, 2, "unknown command 'frobnicate'"},
      {{"metadata"}, 2, "usage: convctl metadata MODEL"},
  };
  for (const Case& c : cases) {
    for (const std::string& url : {GrpcUrl(), HttpUrl()}) {
      ToolResult result = Convctl(url, c.args);
      EXPECT_EQ(result.exit_code, c.exit_code) << c.args[0] << " " << url << ": " << result.err;
      EXPECT_NE(result.err.find(c.message), std::string::npos) << result.err;
      EXPECT_EQ(result.err.find("terminate"), std::string::npos) << result.err;
    }
  }
  // Nothing listening: UNAVAILABLE naming the address, for either protocol.
  for (const std::string& url : {std::string("127.0.0.1:1"), std::string("http://127.0.0.1:1")}) {
    ToolResult result = Convctl(url, {"health"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("UNAVAILABLE"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("127.0.0.1:1"), std::string::npos) << result.err;
  }
  ToolResult bad_url = Convctl("ftp://x", {"health"});
  EXPECT_EQ(bad_url.exit_code, 2);
  EXPECT_NE(bad_url.err.find("unknown scheme"), std::string::npos) << bad_url.err;
}

TEST_F(ConvctlTest, UnloadAndLoad) {
  ToolResult unload = Convctl(HttpUrl(), {"unload", "lenet5"});
  ASSERT_EQ(unload.exit_code, 0) << unload.err;
  EXPECT_EQ(unload.out, "unloaded lenet5\n");
  ToolResult gone = Convctl(GrpcUrl(), {"infer", "lenet5", "--random"});
  EXPECT_EQ(gone.exit_code, 1);
  ToolResult load = Convctl(GrpcUrl(), {"load", "lenet5"});
  ASSERT_EQ(load.exit_code, 0) << load.err;
  EXPECT_EQ(Convctl(HttpUrl(), {"infer", "lenet5", "--random"}).exit_code, 0);
}

TEST_F(ConvctlTest, LoadsWithAConfigFileInJsonOrConfigPbtxtText) {
  const std::string dir = MakeTempDir("convctl_config");
  auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = dir + "/" + name;
    std::FILE* file = std::fopen(path.c_str(), "w");
    std::fputs(text.c_str(), file);
    std::fclose(file);
    return path;
  };
  auto max_batch_size = [&] {
    ToolResult config = Convctl(GrpcUrl(), {"config", "lenet5", "--json"});
    EXPECT_EQ(config.exit_code, 0) << config.err;
    return json::parse(config.out)["max_batch_size"].get<int>();
  };
  // JSON as `config --json` prints it, edited: batches of up to 2.
  json edited = json::parse(Convctl(GrpcUrl(), {"config", "lenet5", "--json"}).out);
  edited["max_batch_size"] = 2;
  edited["dynamic_batching"]["preferred_batch_size"] = json::array({2});
  edited.erase("model_warmup");
  ToolResult load =
      Convctl(HttpUrl(), {"load", "lenet5", "--config", write("two.json", edited.dump())});
  ASSERT_EQ(load.exit_code, 0) << load.err;
  EXPECT_EQ(load.out, "loaded lenet5\n");
  EXPECT_EQ(max_batch_size(), 2);
  ToolResult three = Convctl(GrpcUrl(), {"infer", "lenet5", "--random", "--batch", "3"});
  EXPECT_EQ(three.exit_code, 1);
  EXPECT_NE(three.err.find("batch of 1 to 2"), std::string::npos) << three.err;

  // config.pbtxt text, as `config` prints it, over gRPC: batches of up to 4.
  std::string text = Convctl(GrpcUrl(), {"config", "lenet5"}).out;
  const size_t at = text.find("max_batch_size: 2");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, std::strlen("max_batch_size: 2"), "max_batch_size: 4");
  load = Convctl(GrpcUrl(), {"load", "lenet5", "--config", write("four.pbtxt", text)});
  ASSERT_EQ(load.exit_code, 0) << load.err;
  EXPECT_EQ(max_batch_size(), 4);
  EXPECT_EQ(Convctl(HttpUrl(), {"infer", "lenet5", "--random", "--batch", "3"}).exit_code, 0);

  // Neither: refused before anything is sent; a config the server
  // refuses: its reason, and the last load serves on.
  ToolResult garbage = Convctl(GrpcUrl(), {"load", "lenet5", "--config", write("x", "[1, 2")});
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_NE(garbage.err.find("neither JSON nor config.pbtxt text"), std::string::npos)
      << garbage.err;
  edited["max_batch_size"] = 1;  // below the preferred batch of 2
  ToolResult refused =
      Convctl(HttpUrl(), {"load", "lenet5", "--config", write("one.json", edited.dump())});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("preferred_batch_size 2"), std::string::npos) << refused.err;
  EXPECT_EQ(max_batch_size(), 4);

  // Without --config, the repository's config.pbtxt again.
  ASSERT_EQ(Convctl(GrpcUrl(), {"load", "lenet5"}).exit_code, 0);
  EXPECT_EQ(max_batch_size(), 64);
}

TEST_F(ConvctlTest, PriorityIsSentAndALevelBeyondTheModelsIsRefused) {
  json config = json::parse(Convctl(GrpcUrl(), {"config", "lenet5", "--json"}).out);
  config["dynamic_batching"]["priority_levels"] = 2;
  config["dynamic_batching"]["default_priority_level"] = 2;
  const std::string path = MakeTempDir("convctl_priority") + "/levels.json";
  std::ofstream(path) << config.dump();
  ASSERT_EQ(Convctl(GrpcUrl(), {"load", "lenet5", "--config", path}).exit_code, 0);
  for (const std::string& url : {GrpcUrl(), HttpUrl()}) {
    ToolResult first = Convctl(url, {"infer", "lenet5", "--random", "--priority", "1"});
    EXPECT_EQ(first.exit_code, 0) << first.err;
    ToolResult beyond = Convctl(url, {"infer", "lenet5", "--random", "--priority", "3"});
    EXPECT_EQ(beyond.exit_code, 1);
    EXPECT_NE(beyond.err.find("priority 3 is outside [1, priority_levels 2]"), std::string::npos)
        << beyond.err;
    ToolResult classify = Convctl(url, {"classify", "lenet5", "--priority", "2",
                                        *repository_ + "/lenet5/samples/ankle-boot.png"});
    EXPECT_EQ(classify.exit_code, 0) << classify.err;
    EXPECT_NE(classify.out.find("Ankle boot"), std::string::npos) << classify.out;
  }
  ASSERT_EQ(Convctl(GrpcUrl(), {"load", "lenet5"}).exit_code, 0);  // the repository's config
  // Without levels the parameter is ignored, as Triton does.
  EXPECT_EQ(Convctl(GrpcUrl(), {"infer", "lenet5", "--random", "--priority", "3"}).exit_code, 0);
}

}  // namespace
}  // namespace convd::e2e
