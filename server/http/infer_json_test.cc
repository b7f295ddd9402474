// The REST inference body codec: JSON and binary inputs become the same
// raw bytes, nested data flattens row-major, and every malformed body is an
// INVALID_ARGUMENT naming the problem.
#include "server/http/infer_json.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "gtest/gtest.h"
#include "server/http/json_proto.h"

namespace convd {
namespace {

std::string Floats(const std::vector<float>& values) {
  std::string raw(values.size() * 4, '\0');
  std::memcpy(raw.data(), values.data(), raw.size());
  return raw;
}

TEST(InferJsonTest, JsonAndBinaryInputsGiveTheSameBytes) {
  auto json = ParseRestInferRequest(
      R"({"id":"a","inputs":[{"name":"x","shape":[2,3],"datatype":"FP32",)"
      R"("data":[[1.5,-2,3],[4,5e-3,6]]}],"outputs":[{"name":"y","parameters":)"
      R"({"binary_data":true,"classification":2}}],"parameters":{"layer_stats":true}})",
      std::nullopt, "m", "1");
  ASSERT_TRUE(json.ok()) << json.status();
  const std::string expected = Floats({1.5f, -2, 3, 4, 5e-3f, 6});
  ASSERT_EQ(json->request.raw_input_contents_size(), 1);
  EXPECT_EQ(json->request.raw_input_contents(0), expected);
  EXPECT_EQ(json->request.id(), "a");
  EXPECT_EQ(json->request.model_name(), "m");
  EXPECT_TRUE(json->request.parameters().at("layer_stats").bool_param());
  EXPECT_EQ(json->request.outputs(0).parameters().at("classification").int64_param(), 2);
  EXPECT_FALSE(json->request.outputs(0).parameters().contains("binary_data"));
  EXPECT_TRUE(json->binary_outputs.contains("y"));

  const std::string header =
      R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","parameters":{"binary_data_size":24}}]})";
  auto binary = ParseRestInferRequest(header + expected, header.size(), "m", "");
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(binary->request.raw_input_contents(0), expected);
  EXPECT_EQ(binary->request.inputs(0).shape_size(), 2);
}

// Triton reads and writes non-finite values as bare NaN, Infinity and
// -Infinity (perf_analyzer's random JSON inputs hold them); so does convd.
TEST(InferJsonTest, NonFiniteValuesCrossAsTritonSpellsThem) {
  auto parsed = ParseRestInferRequest(
      R"({"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[NaN,Infinity,-Infinity,)"
      R"(-0.25]},{"name":"d","shape":[2],"datatype":"FP64","data":[-Infinity,NaN]}]})",
      std::nullopt, "m", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  float x[4];
  ASSERT_EQ(parsed->request.raw_input_contents(0).size(), sizeof(x));
  std::memcpy(x, parsed->request.raw_input_contents(0).data(), sizeof(x));
  EXPECT_TRUE(std::isnan(x[0]));
  EXPECT_EQ(x[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(x[2], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(x[3], -0.25f);
  double d[2];
  ASSERT_EQ(parsed->request.raw_input_contents(1).size(), sizeof(d));
  std::memcpy(d, parsed->request.raw_input_contents(1).data(), sizeof(d));
  EXPECT_EQ(d[0], -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(d[1]));

  inference::ModelInferResponse response;
  auto* y = response.add_outputs();
  y->set_name("y");
  y->set_datatype("FP32");
  y->add_shape(4);
  response.add_raw_output_contents(
      Floats({std::numeric_limits<float>::quiet_NaN(), 0.5f,
              -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()}));
  const RestInferResponse written = WriteRestInferResponse(RestInferRequest{}, response);
  EXPECT_NE(written.body.find(R"("data":[NaN,0.5,-Infinity,Infinity])"), std::string::npos)
      << written.body;
}

TEST(InferJsonTest, MalformedBodiesNameTheProblem) {
  const std::string header =
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  const struct {
    std::string body;
    std::optional<uint64_t> json_size;
    std::string message;
  } cases[] = {
      {"{", std::nullopt, "not valid JSON"},
      {"[1]", std::nullopt, "must be a JSON object"},
      {"{}", std::nullopt, "non-empty 'inputs'"},
      {R"({"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]})", std::nullopt,
       "inputs[0] needs a string 'name'"},
      {R"({"inputs":[{"name":"x","datatype":"FP32","data":[1]}]})", std::nullopt,
       "needs a 'shape' array"},
      {R"({"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]})", std::nullopt,
       "non-negative integers"},
      {R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1]}]})", std::nullopt,
       "shape holds 2 elements but 'data' has 1"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["a"]}]})", std::nullopt,
       "element 0 of 'data' is not a FP32 value"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[300]}]})", std::nullopt,
       "is not a UINT8 value"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP16","data":[1]}]})", std::nullopt,
       "cannot be sent as JSON data"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})", std::nullopt,
       "needs 'data' or a binary_data_size"},
      {header, std::nullopt, "no Inference-Header-Content-Length"},
      {header + "1234", header.size(), "runs past the end of the body"},
      {header + "123456789", header.size(), "9 bytes follow the JSON but the inputs' binary_data_size add up to 8"},
      {header, header.size() + 1, "exceeds the body"},
      {R"({"id":5,"inputs":[]})", std::nullopt, "'id' must be a string"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{}]})",
       std::nullopt, "outputs[0] needs a string 'name'"},
      {std::string(100000, '[') , std::nullopt, "not valid JSON"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":)" +
           std::string(40, '[') + "1" + std::string(40, ']') + "}]}",
       std::nullopt, "nested deeper than 16"},
  };
  for (const auto& c : cases) {
    auto result = ParseRestInferRequest(c.body, c.json_size, "m", "");
    ASSERT_FALSE(result.ok()) << c.body.substr(0, 200);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(result.status().message().find(c.message), std::string::npos)
        << result.status() << " for " << c.body.substr(0, 200);
  }
}

TEST(InferJsonTest, ResponseIsJsonOrBinaryPerOutput) {
  inference::ModelInferResponse response;
  response.set_model_name("m");
  response.set_model_version("1");
  response.set_id("r");
  auto* scores = response.add_outputs();
  scores->set_name("y");
  scores->set_datatype("FP32");
  scores->add_shape(1);
  scores->add_shape(3);
  response.add_raw_output_contents(Floats({0.1f, -2.0f, 1e-8f}));
  (*response.mutable_parameters())["batch_size"].set_int64_param(4);

  RestInferRequest request;
  RestInferResponse json = WriteRestInferResponse(request, response);
  EXPECT_FALSE(json.json_size.has_value());
  EXPECT_EQ(json.body,
            R"({"model_name":"m","model_version":"1","id":"r","parameters":{"batch_size":4},)"
            R"("outputs":[{"name":"y","datatype":"FP32","shape":[1,3],"data":[0.1,-2,1e-08]}]})");

  request.binary_outputs.insert("y");
  RestInferResponse binary = WriteRestInferResponse(request, response);
  ASSERT_TRUE(binary.json_size.has_value());
  EXPECT_EQ(binary.body.substr(*binary.json_size), response.raw_output_contents(0));
  EXPECT_NE(binary.body.substr(0, *binary.json_size).find(R"("parameters":{"binary_data_size":12})"),
            std::string::npos)
      << binary.body.substr(0, *binary.json_size);
}

TEST(InferJsonTest, SharedMemoryTensorsCarryNoDataEitherWay) {
  auto parsed = ParseRestInferRequest(
      R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","parameters":)"
      R"({"shared_memory_region":"in","shared_memory_byte_size":24,"shared_memory_offset":8}}],)"
      R"("outputs":[{"name":"y","parameters":{"shared_memory_region":"out",)"
      R"("shared_memory_byte_size":12}}]})",
      std::nullopt, "m", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.raw_input_contents_size(), 0) << "the service reads the region";
  const auto& input_params = parsed->request.inputs(0).parameters();
  EXPECT_EQ(input_params.at("shared_memory_region").string_param(), "in");
  EXPECT_EQ(input_params.at("shared_memory_byte_size").int64_param(), 24);
  EXPECT_EQ(input_params.at("shared_memory_offset").int64_param(), 8);
  EXPECT_EQ(parsed->request.outputs(0).parameters().at("shared_memory_region").string_param(),
            "out");

  auto both = ParseRestInferRequest(
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":)"
      R"({"shared_memory_region":"in","shared_memory_byte_size":4}}]})",
      std::nullopt, "m", "");
  EXPECT_EQ(both.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(both.status().message().find("input 'x' has shared_memory_region and 'data'"),
            std::string::npos)
      << both.status();

  // An output written to shared memory: where it went, and no data (its
  // raw entry is empty; the next output's bytes are still its own).
  inference::ModelInferResponse response;
  auto* in_memory = response.add_outputs();
  in_memory->set_name("y");
  in_memory->set_datatype("FP32");
  in_memory->add_shape(3);
  (*in_memory->mutable_parameters())["shared_memory_region"].set_string_param("out");
  (*in_memory->mutable_parameters())["shared_memory_byte_size"].set_int64_param(12);
  response.add_raw_output_contents();
  auto* inline_output = response.add_outputs();
  inline_output->set_name("z");
  inline_output->set_datatype("FP32");
  inline_output->add_shape(1);
  response.add_raw_output_contents(Floats({2.5f}));
  RestInferResponse json = WriteRestInferResponse(RestInferRequest(), response);
  EXPECT_FALSE(json.json_size.has_value());
  EXPECT_NE(json.body.find(R"({"name":"y","datatype":"FP32","shape":[3]},)"), std::string::npos)
      << json.body;
  EXPECT_NE(json.body.find(R"({"name":"z","datatype":"FP32","shape":[1],"data":[2.5]})"),
            std::string::npos)
      << json.body;
}

TEST(JsonProtoTest, SixtyFourBitIntegersAreNumbersAndZeroCountersAreWritten) {
  inference::ModelStatisticsResponse stats;
  auto* model = stats.add_model_stats();
  model->set_name("m");
  model->set_inference_count(uint64_t{1} << 40);
  model->mutable_inference_stats()->mutable_success()->set_count(0);
  const std::string json = ProtoToJson(stats);
  EXPECT_NE(json.find(R"("inference_count":1099511627776)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("success":{"count":0,"ns":0})"), std::string::npos) << json;
}

}  // namespace
}  // namespace convd
