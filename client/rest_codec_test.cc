// The client's REST codec against the server's (server/http/infer_json):
// what the client encodes, the server reads back exactly; what the server
// writes, binary or JSON, the client reads back exactly.
#include "client/rest_codec.h"

#include <cstring>
#include <limits>
#include <random>

#include "gtest/gtest.h"
#include "server/core/bytes_tensor.h"
#include "server/http/infer_json.h"

namespace convd::client {
namespace {

std::string RandomFloats(int count, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::string raw(count * sizeof(float), '\0');
  for (int i = 0; i < count; ++i) {
    const float value = normal(rng);
    std::memcpy(raw.data() + i * sizeof(float), &value, sizeof(float));
  }
  return raw;
}

TEST(RestCodecTest, TheServerReadsWhatTheClientEncodes) {
  std::mt19937 rng(std::random_device{}());
  inference::ModelInferRequest request;
  request.set_model_name("lenet");
  request.set_id("req-7");
  (*request.mutable_parameters())["layer_stats"].set_bool_param(true);
  auto* x = request.add_inputs();
  x->set_name("input");
  x->set_datatype("FP32");
  for (int64_t d : {3, 1, 5, 7}) x->add_shape(d);
  request.add_raw_input_contents(RandomFloats(3 * 5 * 7, rng));
  auto* y = request.add_inputs();
  y->set_name("image");
  y->set_datatype("BYTES");
  y->add_shape(2);
  request.add_raw_input_contents(SerializeBytesTensor({"\x89PNG\r\n", std::string(300, '\0')}));
  auto* out = request.add_outputs();
  out->set_name("prob");
  (*out->mutable_parameters())["classification"].set_int64_param(3);

  auto encoded = EncodeRestInferRequest(request);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  auto parsed = ParseRestInferRequest(encoded->body, encoded->json_size, "lenet", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& got = parsed->request;
  EXPECT_EQ(got.id(), "req-7");
  EXPECT_TRUE(got.parameters().at("layer_stats").bool_param());
  ASSERT_EQ(got.inputs_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(got.inputs(i).name(), request.inputs(i).name());
    EXPECT_EQ(got.inputs(i).datatype(), request.inputs(i).datatype());
    EXPECT_EQ(std::vector<int64_t>(got.inputs(i).shape().begin(), got.inputs(i).shape().end()),
              std::vector<int64_t>(request.inputs(i).shape().begin(),
                                   request.inputs(i).shape().end()));
    EXPECT_EQ(got.raw_input_contents(i), request.raw_input_contents(i)) << "input " << i;
  }
  ASSERT_EQ(got.outputs_size(), 1);
  EXPECT_EQ(got.outputs(0).parameters().at("classification").int64_param(), 3);
  EXPECT_TRUE(parsed->binary_outputs.contains("prob"));

  // With no outputs named, every output is asked for as binary.
  request.clear_outputs();
  auto all = ParseRestInferRequest(EncodeRestInferRequest(request)->body,
                                   EncodeRestInferRequest(request)->json_size, "lenet", "");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->all_outputs_binary);
}

inference::ModelInferResponse ServerResponse(std::mt19937& rng) {
  inference::ModelInferResponse response;
  response.set_model_name("lenet");
  response.set_model_version("1");
  response.set_id("r");
  (*response.mutable_parameters())["layer_stats"].set_string_param("{\"layers\": []}");
  auto* prob = response.add_outputs();
  prob->set_name("prob");
  prob->set_datatype("FP32");
  prob->add_shape(2);
  prob->add_shape(10);
  // Triton's dialect: non-finite values cross JSON as NaN and +-Infinity.
  std::string prob_values = RandomFloats(20, rng);
  const float non_finite[] = {std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity()};
  std::memcpy(prob_values.data() + (rng() % 17) * sizeof(float), non_finite, sizeof(non_finite));
  response.add_raw_output_contents(prob_values);
  auto* classes = response.add_outputs();
  classes->set_name("classes");
  classes->set_datatype("BYTES");
  classes->add_shape(2);
  classes->add_shape(1);
  response.add_raw_output_contents(SerializeBytesTensor({"0.9:3:Dress", "0.5:1:Trouser"}));
  return response;
}

void ExpectSameResponse(const inference::ModelInferResponse& got,
                        const inference::ModelInferResponse& want) {
  EXPECT_EQ(got.model_name(), want.model_name());
  EXPECT_EQ(got.model_version(), want.model_version());
  EXPECT_EQ(got.id(), want.id());
  EXPECT_EQ(got.parameters().at("layer_stats").string_param(),
            want.parameters().at("layer_stats").string_param());
  ASSERT_EQ(got.outputs_size(), want.outputs_size());
  for (int i = 0; i < want.outputs_size(); ++i) {
    EXPECT_EQ(got.outputs(i).name(), want.outputs(i).name());
    EXPECT_EQ(got.outputs(i).datatype(), want.outputs(i).datatype());
    EXPECT_EQ(got.outputs(i).shape_size(), want.outputs(i).shape_size());
    EXPECT_FALSE(got.outputs(i).parameters().contains("binary_data_size"));
    EXPECT_EQ(got.raw_output_contents(i), want.raw_output_contents(i)) << "output " << i;
  }
}

TEST(RestCodecTest, ReadsTheServersBinaryAndJsonOutputsExactly) {
  std::mt19937 rng(std::random_device{}());
  const inference::ModelInferResponse response = ServerResponse(rng);
  RestInferRequest binary;
  binary.all_outputs_binary = true;
  RestInferResponse written = WriteRestInferResponse(binary, response);
  ASSERT_TRUE(written.json_size.has_value());
  auto decoded = DecodeRestInferResponse(written.body, written.json_size);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSameResponse(*decoded, response);

  RestInferRequest json;  // every output as a JSON "data" array
  written = WriteRestInferResponse(json, response);
  ASSERT_FALSE(written.json_size.has_value());
  decoded = DecodeRestInferResponse(written.body, std::nullopt);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSameResponse(*decoded, response);
}

TEST(RestCodecTest, MalformedResponsesAreErrorsNotCrashes) {
  EXPECT_FALSE(DecodeRestInferResponse("{", std::nullopt).ok());
  EXPECT_FALSE(DecodeRestInferResponse("{}", std::nullopt).ok());
  EXPECT_FALSE(DecodeRestInferResponse("{}", 99).ok());
  const std::string header =
      R"({"outputs":[{"name":"p","datatype":"FP32","shape":[4],"parameters":{"binary_data_size":16}}]})";
  auto short_body = DecodeRestInferResponse(header + "12345678", header.size());
  ASSERT_FALSE(short_body.ok());
  EXPECT_NE(short_body.status().message().find("claims 16 binary bytes; 8 remain"),
            std::string::npos)
      << short_body.status();
  EXPECT_FALSE(
      DecodeRestInferResponse(R"({"outputs":[{"name":"p","datatype":"FP32","shape":[1]}]})",
                              std::nullopt)
          .ok());
}

TEST(RestCodecTest, RawContentsAreRequired) {
  inference::ModelInferRequest request;
  request.add_inputs()->set_name("x");
  EXPECT_EQ(EncodeRestInferRequest(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RestCodecTest, SharedMemoryTensorsTravelAsParametersOnly) {
  std::mt19937 rng(std::random_device{}());
  inference::ModelInferRequest request;
  auto* in_memory = request.add_inputs();
  in_memory->set_name("a");
  in_memory->set_datatype("FP32");
  in_memory->add_shape(6);
  (*in_memory->mutable_parameters())["shared_memory_region"].set_string_param("in");
  (*in_memory->mutable_parameters())["shared_memory_byte_size"].set_int64_param(24);
  auto* inline_input = request.add_inputs();
  inline_input->set_name("b");
  inline_input->set_datatype("FP32");
  inline_input->add_shape(2);
  const std::string b_bytes = RandomFloats(2, rng);
  request.add_raw_input_contents(b_bytes);  // the only raw entry: b's
  auto* out = request.add_outputs();
  out->set_name("prob");
  (*out->mutable_parameters())["shared_memory_region"].set_string_param("out");
  (*out->mutable_parameters())["shared_memory_byte_size"].set_int64_param(40);

  auto encoded = EncodeRestInferRequest(request);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  auto parsed = ParseRestInferRequest(encoded->body, encoded->json_size, "m", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->request.raw_input_contents_size(), 1);
  EXPECT_EQ(parsed->request.raw_input_contents(0), b_bytes);
  EXPECT_EQ(parsed->request.inputs(0).parameters().at("shared_memory_region").string_param(), "in");
  EXPECT_TRUE(parsed->binary_outputs.empty()) << "an output in shared memory is not binary";
  EXPECT_EQ(parsed->request.outputs(0).parameters().at("shared_memory_byte_size").int64_param(),
            40);

  // The server's answer for it: the output's name, datatype and shape, no
  // data; decoded with an empty raw entry (one per output, as over gRPC).
  const std::string answer = R"({"outputs":[{"name":"prob","datatype":"FP32","shape":[10]}]})";
  auto decoded = DecodeRestInferResponse(answer, std::nullopt, {"prob"});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->raw_output_contents_size(), 1);
  EXPECT_TRUE(decoded->raw_output_contents(0).empty());
  EXPECT_EQ(decoded->outputs(0).shape(0), 10);
  // Not asked for in shared memory, the same answer lacks its data.
  EXPECT_FALSE(DecodeRestInferResponse(answer, std::nullopt).ok());
}

}  // namespace
}  // namespace convd::client
