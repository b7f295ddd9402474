#include "server/core/tracer.h"

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/testing/temp_dir.h"
#include "rapidjson/document.h"

namespace convd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Settings = std::map<std::string, std::vector<std::string>>;

inference::TraceSettingRequest Request(const Settings& settings, const std::string& model = "") {
  inference::TraceSettingRequest request;
  request.set_model_name(model);
  for (const auto& [name, values] : settings) {
    auto& setting = (*request.mutable_settings())[name];
    for (const std::string& value : values) setting.add_value(value);
  }
  return request;
}

std::vector<std::string> Values(const inference::TraceSettingResponse& response,
                                const std::string& name) {
  auto found = response.settings().find(name);
  if (found == response.settings().end()) return {"<missing>"};
  return {found->second.value().begin(), found->second.value().end()};
}

std::unique_ptr<Tracer> NewTracer(const std::string& file, TraceSettings settings = {}) {
  absl::StatusOr<std::unique_ptr<Tracer>> tracer = Tracer::Create(file, settings);
  EXPECT_TRUE(tracer.ok()) << tracer.status();
  return tracer.ok() ? *std::move(tracer) : nullptr;
}

// Which of `n` requests to `model` are traced (1-based), holding none.
std::vector<int> Sampled(Tracer& tracer, const std::string& model, int n) {
  std::vector<int> sampled;
  for (int i = 1; i <= n; ++i) {
    if (tracer.Sample(model) != nullptr) sampled.push_back(i);
  }
  return sampled;
}

// The objects of a trace file; fails the test unless it is a JSON array.
std::vector<std::string> ReadObjects(const std::string& path, rapidjson::Document& document) {
  absl::StatusOr<std::string> text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return {};
  document.Parse(text->c_str());
  EXPECT_FALSE(document.HasParseError()) << *text;
  EXPECT_TRUE(document.IsArray()) << *text;
  std::vector<std::string> kinds;
  if (document.HasParseError() || !document.IsArray()) return kinds;
  for (const auto& object : document.GetArray()) {
    if (object.HasMember("model_name")) {
      kinds.push_back("model");
    } else if (object.HasMember("timestamps")) {
      kinds.push_back(object["timestamps"][0]["name"].GetString());
    } else {
      kinds.push_back(object["activity"].GetString());
    }
  }
  return kinds;
}

TEST(TracerTest, TracesEveryRateThRequestUntilTheCountRunsOut) {
  const std::string dir = testing::MakeTempDir("tracer_rate");
  auto tracer = NewTracer(dir + "/trace.json", {.level = kTraceTimestamps, .rate = 3});
  EXPECT_THAT(Sampled(*tracer, "lenet5", 10), ElementsAre(3, 6, 9));

  auto response = tracer->Update(Request({{"trace_rate", {"2"}}, {"trace_count", {"2"}}}));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(Sampled(*tracer, "lenet5", 10), ElementsAre(2, 4));
  EXPECT_THAT(Values(*tracer->Update(Request({})), "trace_count"), ElementsAre("0"));
  // Counting again from a new count.
  ASSERT_TRUE(tracer->Update(Request({{"trace_count", {"-1"}}})).ok());
  EXPECT_THAT(Sampled(*tracer, "lenet5", 4), ElementsAre(2, 4));
}

TEST(TracerTest, NothingIsSampledWhileTheLevelIsOff) {
  const std::string dir = testing::MakeTempDir("tracer_off");
  auto tracer = NewTracer(dir + "/trace.json", {.rate = 1});
  EXPECT_THAT(Sampled(*tracer, "lenet5", 3), ElementsAre());
  ASSERT_TRUE(tracer->Update(Request({{"trace_level", {"TENSORS"}}})).ok());
  EXPECT_THAT(Sampled(*tracer, "lenet5", 2), ElementsAre(1, 2));
  ASSERT_TRUE(tracer->Update(Request({{"trace_level", {"OFF"}}})).ok());
  EXPECT_THAT(Sampled(*tracer, "lenet5", 3), ElementsAre());
}

TEST(TracerTest, AModelsOwnSettingsOverrideTheGlobalOnesUntilCleared) {
  const std::string dir = testing::MakeTempDir("tracer_model");
  auto tracer = NewTracer(dir + "/trace.json", {.level = kTraceTimestamps, .rate = 1000});
  auto own = tracer->Update(Request({{"trace_rate", {"1"}}}, "lenet5"));
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_THAT(Values(*own, "trace_rate"), ElementsAre("1"));
  EXPECT_THAT(Values(*own, "trace_level"), ElementsAre("TIMESTAMPS"));  // the global one
  EXPECT_THAT(Sampled(*tracer, "lenet5", 3), ElementsAre(1, 2, 3));
  EXPECT_THAT(Sampled(*tracer, "alexnet", 3), ElementsAre());

  // What the model did not set follows the global settings as they change.
  ASSERT_TRUE(tracer->Update(Request({{"trace_level", {"TIMESTAMPS", "TENSORS"}}})).ok());
  EXPECT_EQ(tracer->Effective("lenet5").level, kTraceTimestamps | kTraceTensors);
  EXPECT_EQ(tracer->Effective("lenet5").rate, 1u);
  ASSERT_TRUE(tracer->Update(Request({{"trace_level", {"OFF"}}}, "lenet5")).ok());
  EXPECT_THAT(Sampled(*tracer, "lenet5", 3), ElementsAre());

  // Cleared, each setting follows the global one again.
  ASSERT_TRUE(tracer->Update(Request({{"trace_level", {}}, {"trace_rate", {}}}, "lenet5")).ok());
  const TraceSettings now = tracer->Effective("lenet5");
  EXPECT_EQ(now.level, kTraceTimestamps | kTraceTensors);
  EXPECT_EQ(now.rate, 1000u);
}

TEST(TracerTest, AClearedGlobalSettingReturnsToItsValueAtStart) {
  const std::string dir = testing::MakeTempDir("tracer_clear");
  auto tracer = NewTracer(dir + "/trace.json",
                          {.level = kTraceTimestamps, .rate = 7, .count = 5, .log_frequency = 3});
  ASSERT_TRUE(tracer
                  ->Update(Request({{"trace_level", {"OFF"}},
                                    {"trace_rate", {"9"}},
                                    {"trace_count", {"-1"}},
                                    {"log_frequency", {"0"}}}))
                  .ok());
  auto cleared = tracer->Update(Request(
      {{"trace_level", {}}, {"trace_rate", {}}, {"trace_count", {}}, {"log_frequency", {}}}));
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  EXPECT_THAT(Values(*cleared, "trace_level"), ElementsAre("TIMESTAMPS"));
  EXPECT_THAT(Values(*cleared, "trace_rate"), ElementsAre("7"));
  EXPECT_THAT(Values(*cleared, "trace_count"), ElementsAre("5"));
  EXPECT_THAT(Values(*cleared, "log_frequency"), ElementsAre("3"));
  EXPECT_THAT(Values(*cleared, "trace_file"), ElementsAre(dir + "/trace.json"));
  EXPECT_THAT(Values(*cleared, "trace_mode"), ElementsAre("triton"));
}

TEST(TracerTest, RefusesBadSettingsAndChangesNothing) {
  const std::string dir = testing::MakeTempDir("tracer_refuse");
  auto tracer = NewTracer(dir + "/trace.json", {.level = kTraceTimestamps, .rate = 5});
  const std::vector<std::pair<Settings, std::string>> cases = {
      {{{"trace_rate", {"0"}}}, "'trace_rate' must be an integer in [1, 4294967295]"},
      {{{"trace_rate", {"ten"}}}, "got 'ten'"},
      {{{"trace_rate", {"1", "2"}}}, "takes one value; got 2"},
      {{{"trace_count", {"-2"}}}, "'trace_count' must be an integer in [-1, 2147483647]"},
      {{{"log_frequency", {"-1"}}}, "'log_frequency' must be an integer in [0,"},
      {{{"trace_level", {"OFF", "TIMESTAMPS"}}}, "OFF alone"},
      {{{"trace_level", {"VERBOSE"}}}, "'VERBOSE' is not one of OFF, TIMESTAMPS and TENSORS"},
      {{{"trace_file", {"/etc/cron.d/x"}}}, "'trace_file' cannot be changed through the API"},
      {{{"trace_mode", {"opentelemetry"}}}, "mode 'triton' only"},
      {{{"trace_sample", {"1"}}}, "unknown trace setting 'trace_sample'"},
      // All or none: the good setting beside the bad one is not applied.
      {{{"trace_rate", {"1"}}, {"trace_count", {"x"}}}, "'trace_count'"},
  };
  for (const auto& [settings, message] : cases) {
    auto response = tracer->Update(Request(settings));
    EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(response.status().message(), HasSubstr(message));
  }
  EXPECT_EQ(tracer->Effective("").rate, 5u);
  EXPECT_EQ(tracer->Effective("").level, kTraceTimestamps);
  // The file and mode in force may be named: they change nothing.
  EXPECT_TRUE(
      tracer->Update(Request({{"trace_file", {dir + "/trace.json"}}, {"trace_mode", {"triton"}}}))
          .ok());
}

TEST(TracerTest, WithoutATraceFileOnlyOffIsAccepted) {
  auto tracer = NewTracer("");
  auto on = tracer->Update(Request({{"trace_level", {"TIMESTAMPS"}}}, "lenet5"));
  EXPECT_EQ(on.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(on.status().message(), HasSubstr("--trace-file"));
  auto off = tracer->Update(Request({{"trace_level", {"OFF"}}, {"trace_rate", {"1"}}}));
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_THAT(Values(*off, "trace_file"), ElementsAre(""));
  EXPECT_EQ(Tracer::Create("", {.level = kTraceTimestamps}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Tracer::Create("/tmp/t.json", {.rate = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The start-up flags go through the API's parser: the same values accepted,
// the same refusals with the same messages.
TEST(TracerTest, StartSettingsParseAsTheApisDo) {
  absl::StatusOr<TraceSettings> start = TraceSettingsFromValues({{"trace_level", {"TENSORS"}},
                                                                 {"trace_rate", {"7"}},
                                                                 {"trace_count", {"-1"}},
                                                                 {"log_frequency", {"3"}}});
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(start->level, kTraceTensors);
  EXPECT_EQ(start->rate, 7u);
  EXPECT_EQ(start->count, -1);
  EXPECT_EQ(start->log_frequency, 3u);
  absl::StatusOr<TraceSettings> defaults = TraceSettingsFromValues({});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->rate, 1000u);
  auto tracer = NewTracer(testing::MakeTempDir("tracer_start") + "/trace.json");
  for (const Settings& bad : std::vector<Settings>{{{"trace_rate", {"0"}}},
                                                   {{"trace_rate", {"4294967296"}}},
                                                   {{"trace_count", {"-2"}}},
                                                   {{"log_frequency", {"ten"}}},
                                                   {{"trace_level", {"OFF", "TENSORS"}}},
                                                   {{"trace_level", {""}}},
                                                   {{"trace_file", {"/tmp/elsewhere.json"}}}}) {
    absl::StatusOr<TraceSettings> at_start = TraceSettingsFromValues(bad);
    absl::StatusOr<inference::TraceSettingResponse> through_api = tracer->Update(Request(bad));
    ASSERT_FALSE(at_start.ok()) << bad.begin()->first;
    EXPECT_EQ(at_start.status().code(), absl::StatusCode::kInvalidArgument);
    if (bad.begin()->first != "trace_file") {
      EXPECT_EQ(at_start.status(), through_api.status());
    }
  }
}

TEST(TracerTest, WritesAFileEachLogFrequencyTracesAndTheRestAtTheEnd) {
  const std::string dir = testing::MakeTempDir("tracer_files");
  const std::string file = dir + "/trace.json";
  auto tracer = NewTracer(file, {.level = kTraceTimestamps, .rate = 1, .log_frequency = 2});
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    std::shared_ptr<RequestTrace> trace = tracer->Sample("lenet5");
    ASSERT_NE(trace, nullptr);
    trace->SetModel("lenet5", 1);
    trace->SetRequestId(i == 0 ? "first \"one\"" : i == 1 ? "not UTF-8: \xff" : "");
    // Recorded out of order; written in time order.
    trace->Timestamp(trace_stage::kRequestEnd, t0 + std::chrono::microseconds(9));
    trace->Timestamp(trace_stage::kRequestStart, t0);
    // Not at this level.
    trace->Tensor("TENSOR_QUEUE_INPUT", "input", {1}, std::vector<float>{1.0f});
  }
  tracer->WaitForWrites();
  rapidjson::Document first;
  EXPECT_THAT(ReadObjects(file + ".0", first),
              ElementsAre("model", "REQUEST_START", "REQUEST_END", "model", "REQUEST_START",
                          "REQUEST_END"));
  EXPECT_EQ(first[0]["id"].GetUint64(), 1u);
  EXPECT_STREQ(first[0]["model_name"].GetString(), "lenet5");
  EXPECT_EQ(first[0]["model_version"].GetInt64(), 1);
  EXPECT_STREQ(first[0]["request_id"].GetString(), "first \"one\"");
  EXPECT_STREQ(first[3]["request_id"].GetString(), "not UTF-8: \\xff");
  EXPECT_EQ(first[2]["timestamps"][0]["ns"].GetInt64() - first[1]["timestamps"][0]["ns"].GetInt64(),
            9000);
  rapidjson::Document second;
  EXPECT_EQ(ReadObjects(file + ".1", second).size(), 6u);
  EXPECT_FALSE(second[0].HasMember("request_id"));
  EXPECT_EQ(second[0]["id"].GetUint64(), 3u);
  EXPECT_FALSE(std::filesystem::exists(file + ".2"));
  tracer.reset();  // the fifth trace is written at the end
  rapidjson::Document last;
  EXPECT_EQ(ReadObjects(file + ".2", last).size(), 3u);
  EXPECT_EQ(last[0]["id"].GetUint64(), 5u);
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(TracerTest, LogFrequencyZeroWritesOneFileWhenTheLastTraceEnds) {
  const std::string dir = testing::MakeTempDir("tracer_whole");
  const std::string file = dir + "/trace.json";
  auto tracer = NewTracer(file, {.level = kTraceTimestamps, .rate = 1});
  tracer->Sample("a").reset();
  std::shared_ptr<RequestTrace> still_running = tracer->Sample("b");
  still_running->SetModel("b", 3);
  tracer.reset();
  EXPECT_FALSE(std::filesystem::exists(file));
  still_running.reset();
  rapidjson::Document document;
  EXPECT_THAT(ReadObjects(file, document), ElementsAre("model", "model"));
  EXPECT_EQ(document[1]["model_version"].GetInt64(), 3);
  EXPECT_EQ(document[0]["model_version"].GetInt64(), -1);  // no model was set
}

TEST(TracerTest, TensorsAreWrittenExactly) {
  const std::string dir = testing::MakeTempDir("tracer_tensors");
  const std::string file = dir + "/trace.json";
  auto tracer = NewTracer(file, {.level = kTraceTensors, .rate = 1, .log_frequency = 1});
  std::mt19937 random(std::random_device{}());
  std::uniform_real_distribution<float> uniform(-1e3f, 1e3f);
  std::vector<float> data(2 * 3 * 5);
  for (float& value : data) value = uniform(random);
  data[7] = 1e-30f;
  data[11] = -0.0f;
  {
    std::shared_ptr<RequestTrace> trace = tracer->Sample("m");
    ASSERT_TRUE(trace->wants_tensors());
    trace->Timestamp(trace_stage::kRequestStart,
                     std::chrono::steady_clock::now());  // not at TENSORS
    trace->Tensor("TENSOR_BACKEND_OUTPUT", "prob", {2, 3, 5}, data);
  }
  tracer->WaitForWrites();
  rapidjson::Document document;
  ASSERT_THAT(ReadObjects(file + ".0", document), ElementsAre("model", "TENSOR_BACKEND_OUTPUT"));
  const auto& tensor = document[1]["tensor"];
  EXPECT_STREQ(tensor["name"].GetString(), "prob");
  EXPECT_STREQ(tensor["shape"].GetString(), "2,3,5");
  EXPECT_STREQ(tensor["dtype"].GetString(), "FP32");
  std::vector<std::string> parts = absl::StrSplit(tensor["data"].GetString(), ',');
  ASSERT_EQ(parts.size(), data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    float value = 0;
    ASSERT_TRUE(absl::SimpleAtof(parts[i], &value)) << parts[i];
    EXPECT_EQ(value, data[i]) << i;
    EXPECT_EQ(std::signbit(value), std::signbit(data[i])) << i;
  }
}

}  // namespace
}  // namespace convd
