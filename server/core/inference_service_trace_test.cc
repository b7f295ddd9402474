// The serving core's side of the trace extension: a traced request's
// stages and tensors as its trace file has them, and the settings per model.
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/file_util.h"
#include "gtest/gtest.h"
#include "kernels/testing/temp_dir.h"
#include "rapidjson/document.h"
#include "server/core/inference_service.h"
#include "server/core/testing/lenet_service.h"

namespace convd {
namespace {

// The stages of a request's trace, from its file, by name.
std::map<std::string, int64_t> TracedStages(const rapidjson::Document& trace) {
  std::map<std::string, int64_t> stages;
  for (const auto& object : trace.GetArray()) {
    if (!object.HasMember("timestamps")) continue;
    stages[object["timestamps"][0]["name"].GetString()] = object["timestamps"][0]["ns"].GetInt64();
  }
  return stages;
}

std::vector<float> TracedFloats(const rapidjson::Value& tensor) {
  std::vector<float> values;
  for (absl::string_view part : absl::StrSplit(tensor["data"].GetString(), ',')) {
    float value = 0;
    EXPECT_TRUE(absl::SimpleAtof(part, &value)) << part;
    values.push_back(value);
  }
  return values;
}

TEST(InferenceServiceTest, ATracedRequestRecordsItsStagesAndTensors) {
  ThreadPool pool(2);
  ModelRepository repository(testing::LenetRepository(pool));
  ASSERT_EQ(repository.LoadAll(), 0);
  const std::string file = testing::MakeTempDir("core_trace") + "/trace.json";
  auto tracer = Tracer::Create(
      file, {.level = kTraceTimestamps | kTraceTensors, .rate = 1, .log_frequency = 1});
  ASSERT_TRUE(tracer.ok()) << tracer.status();
  std::shared_ptr<Tracer> traces = *std::move(tracer);
  InferenceService service(&repository, {.tracer = traces});

  auto infer = [&](inference::ModelInferRequest request) {
    std::shared_ptr<RequestTrace> trace = service.SampleTrace(request.model_name());
    EXPECT_NE(trace, nullptr);
    inference::ModelInferResponse response;
    std::promise<absl::Status> done;
    service.Infer(
        request, &response, [&](absl::Status status) { done.set_value(status); }, trace);
    const absl::Status status = done.get_future().get();
    trace.reset();  // the last reference: the trace is due
    traces->WaitForWrites();
    return std::make_pair(status, response);
  };
  inference::ModelInferRequest request = testing::LenetRequest(3);
  request.set_id("traced");
  const std::string sent = request.raw_input_contents(0);
  const auto [status, response] = infer(request);
  ASSERT_TRUE(status.ok()) << status;

  rapidjson::Document trace;
  absl::StatusOr<std::string> text = ReadFile(file + ".0");
  ASSERT_TRUE(text.ok()) << text.status();
  trace.Parse(text->c_str());
  ASSERT_TRUE(trace.IsArray()) << *text;
  EXPECT_STREQ(trace[0]["model_name"].GetString(), "lenet");
  EXPECT_EQ(trace[0]["model_version"].GetInt64(), 1);
  EXPECT_STREQ(trace[0]["request_id"].GetString(), "traced");
  const std::map<std::string, int64_t> stages = TracedStages(trace);
  int64_t last = 0;
  for (const char* stage :
       {"REQUEST_START", "QUEUE_START", "COMPUTE_START", "COMPUTE_INPUT_END",
        "COMPUTE_OUTPUT_START", "COMPUTE_END", "INFER_RESPONSE_COMPLETE", "REQUEST_END"}) {
    ASSERT_TRUE(stages.count(stage)) << stage << " missing from " << *text;
    EXPECT_GE(stages.at(stage), last) << stage;
    last = stages.at(stage);
  }
  EXPECT_EQ(stages.size(), 8u);
  std::vector<float> input(sent.size() / sizeof(float)), output(3 * 10);
  std::memcpy(input.data(), sent.data(), sent.size());
  ASSERT_EQ(response.raw_output_contents(0).size(), output.size() * sizeof(float));
  std::memcpy(output.data(), response.raw_output_contents(0).data(), output.size() * sizeof(float));
  const rapidjson::Value& queued = trace[trace.Size() - 2];
  const rapidjson::Value& computed = trace[trace.Size() - 1];
  EXPECT_STREQ(queued["activity"].GetString(), "TENSOR_QUEUE_INPUT");
  EXPECT_STREQ(queued["tensor"]["shape"].GetString(), "3,1,28,28");
  EXPECT_EQ(TracedFloats(queued["tensor"]), input);
  EXPECT_STREQ(computed["activity"].GetString(), "TENSOR_BACKEND_OUTPUT");
  EXPECT_STREQ(computed["tensor"]["shape"].GetString(), "3,10");
  EXPECT_EQ(TracedFloats(computed["tensor"]), output);

  // Refused before reaching a model: the service's two ends, no version.
  const auto [refused, unused] = infer(testing::LenetRequest(1, "nope"));
  EXPECT_EQ(refused.code(), absl::StatusCode::kNotFound);
  text = ReadFile(file + ".1");
  ASSERT_TRUE(text.ok()) << text.status();
  trace.Parse(text->c_str());
  ASSERT_TRUE(trace.IsArray()) << *text;
  EXPECT_STREQ(trace[0]["model_name"].GetString(), "nope");
  EXPECT_EQ(trace[0]["model_version"].GetInt64(), -1);
  EXPECT_EQ(TracedStages(trace).size(), 2u) << *text;

  inference::TraceSettingRequest settings;
  settings.set_model_name("nope");
  EXPECT_EQ(service.TraceSetting(settings).status().code(), absl::StatusCode::kNotFound);
  settings.set_model_name("lenet");
  (*settings.mutable_settings())["trace_level"].add_value("OFF");
  EXPECT_TRUE(service.TraceSetting(settings).ok());
  EXPECT_EQ(service.SampleTrace("lenet"), nullptr);
  EXPECT_NE(service.SampleTrace("other"), nullptr);
}

}  // namespace
}  // namespace convd
