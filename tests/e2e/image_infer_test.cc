// Encoded images as inference inputs, end to end: real Fashion-MNIST test
// images written as PNG and JPEG files, sent as a BYTES input over gRPC and
// HTTP to the bundled LeNet-5, classify as the same images sent as UINT8
// tensors do; bad images are refused with a message naming the image.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/core/bytes_tensor.h"
#include "server/image/image_encode.h"
#include "tests/e2e/e2e_util.h"
#include "client/http_connection.h"
#include "tests/models/fashion_mnist.h"

namespace convd::e2e {
namespace {

using client::HttpCall;
using client::HttpResult;

constexpr int kImages = 32;

inference::ModelInferRequest ImageRequest(const std::vector<std::string>& files) {
  inference::ModelInferRequest request;
  request.set_model_name("lenet5");
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("BYTES");
  input->add_shape(static_cast<int64_t>(files.size()));
  request.add_raw_input_contents(SerializeBytesTensor(files));
  return request;
}

std::vector<int> Argmax(const std::vector<float>& scores) {
  std::vector<int> classes;
  for (size_t row = 0; row + 10 <= scores.size(); row += 10) {
    classes.push_back(static_cast<int>(
        std::max_element(scores.begin() + row, scores.begin() + row + 10) - scores.begin() -
        row));
  }
  return classes;
}

class ImageInferTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = StartServer("models").release();
    auto images = testing::ReadIdxImages(testing::FashionMnistDir() +
                                         "/t10k-images-idx3-ubyte.gz");
    ASSERT_TRUE(images.ok()) << images.status();
    pixels_ = new std::vector<uint8_t>(images->pixels.begin(),
                                       images->pixels.begin() + kImages * 28 * 28);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete pixels_;
  }

  static Image At(int i) {
    return Image{28, 28, 1, {pixels_->begin() + i * 784, pixels_->begin() + (i + 1) * 784}};
  }

  static inference::ModelInferResponse Infer(const inference::ModelInferRequest& request,
                                             grpc::Status* status) {
    auto stub = Connect(server_->grpc_port());
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    *status = stub->ModelInfer(&context, request, &response);
    return response;
  }

  // The tensor path: the same pixels as a UINT8 [N, 1, 28, 28] input.
  static std::vector<float> TensorScores() {
    inference::ModelInferRequest request = FloatRequest("lenet5", {kImages, 1, 28, 28}, {});
    request.mutable_inputs(0)->set_datatype("UINT8");
    request.set_raw_input_contents(0, std::string(pixels_->begin(), pixels_->end()));
    grpc::Status status;
    const std::vector<float> scores = OutputFloats(Infer(request, &status));
    EXPECT_TRUE(status.ok()) << status.error_message();
    return scores;
  }

  static Server* server_;
  static std::vector<uint8_t>* pixels_;
};

Server* ImageInferTest::server_ = nullptr;
std::vector<uint8_t>* ImageInferTest::pixels_ = nullptr;

TEST_F(ImageInferTest, PngAndJpegClassifyAsTheTensorPath) {
  const std::vector<float> tensor_scores = TensorScores();
  ASSERT_EQ(tensor_scores.size(), kImages * 10u);
  std::vector<std::string> pngs, jpegs;
  for (int i = 0; i < kImages; ++i) {
    pngs.push_back(EncodePng(At(i)));
    jpegs.push_back(EncodeJpeg(At(i), 95));
  }
  grpc::Status status;
  const std::vector<float> png_scores = OutputFloats(Infer(ImageRequest(pngs), &status));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(png_scores, tensor_scores);  // lossless: the very same pixels

  const std::vector<float> jpeg_scores = OutputFloats(Infer(ImageRequest(jpegs), &status));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Argmax(jpeg_scores), Argmax(tensor_scores));

  // An RGB PNG at another size: converted to grey and resized to 28x28.
  Image big{56, 56, 3, {}};
  const Image small = At(0);
  for (int y = 0; y < 56; ++y) {
    for (int x = 0; x < 56; ++x) {
      for (int c = 0; c < 3; ++c) big.pixels.push_back(small.pixels[(y / 2) * 28 + x / 2]);
    }
  }
  const std::vector<float> big_scores =
      OutputFloats(Infer(ImageRequest({EncodePng(big)}), &status));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Argmax(big_scores)[0], Argmax(tensor_scores)[0]);
}

TEST_F(ImageInferTest, ImagesOverHttpWithTheBinaryExtension) {
  std::vector<std::string> pngs;
  for (int i = 0; i < 4; ++i) pngs.push_back(EncodePng(At(i)));
  const std::string data = SerializeBytesTensor(pngs);
  const std::string header = absl::StrCat(
      R"({"inputs":[{"name":"input","shape":[4],"datatype":"BYTES",)",
      R"("parameters":{"binary_data_size":)", data.size(), "}}],",
      R"("outputs":[{"name":"prob","parameters":{"classification":1}}]})");
  HttpResult result =
      HttpCall(server_->http_port(), "POST", "/v2/models/lenet5/infer", header + data,
               {{"Inference-Header-Content-Length", std::to_string(header.size())}});
  ASSERT_EQ(result.status, 200) << result.body;
  const auto classes = nlohmann::json::parse(result.body)["outputs"][0]["data"];
  const std::vector<int> expected = Argmax(TensorScores());
  ASSERT_EQ(classes.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const std::string top = classes[i].get<std::string>();  // "score:index:label"
    EXPECT_EQ(std::stoi(top.substr(top.find(':') + 1)), expected[i]) << top;
  }
}

TEST_F(ImageInferTest, ClassifyEndpointTakesFilesAndReturnsLabelledTopK) {
  const std::vector<int> expected = Argmax(TensorScores());
  std::string body;
  for (int i = 0; i < 3; ++i) {
    absl::StrAppend(&body, "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; "
                           "filename=\"img", i, i == 1 ? ".jpg" : ".png",
                    "\"\r\nContent-Type: image/png\r\n\r\n",
                    i == 1 ? EncodeJpeg(At(i)) : EncodePng(At(i)), "\r\n");
  }
  body += "--XyZ--\r\n";
  HttpResult result =
      HttpCall(server_->http_port(), "POST", "/v2/models/lenet5/classify?k=3&stats=true", body,
               {{"Content-Type", "multipart/form-data; boundary=XyZ"}});
  ASSERT_EQ(result.status, 200) << result.body;
  const nlohmann::json response = nlohmann::json::parse(result.body);
  ASSERT_EQ(response["results"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const auto& classes = response["results"][i]["classes"];
    ASSERT_EQ(classes.size(), 3u);
    EXPECT_EQ(classes[0]["index"].get<int>(), expected[i]);
    EXPECT_FALSE(classes[0]["label"].get<std::string>().empty());
    EXPECT_GE(classes[0]["score"].get<double>(), classes[1]["score"].get<double>());
    EXPECT_EQ(response["results"][i]["filename"], absl::StrCat("img", i, i == 1 ? ".jpg" : ".png"));
  }
  EXPECT_FALSE(response["layer_stats"]["layers"].empty());

  // One raw image as the whole body.
  HttpResult raw = HttpCall(server_->http_port(), "POST", "/v2/models/lenet5/classify",
                            EncodePng(At(5)), {{"Content-Type", "image/png"}});
  ASSERT_EQ(raw.status, 200) << raw.body;
  EXPECT_EQ(nlohmann::json::parse(raw.body)["results"][0]["classes"][0]["index"].get<int>(),
            expected[5]);

  const struct {
    std::string target, body, content_type;
    int status;
    std::string message;
  } errors[] = {
      {"/v2/models/lenet5/classify", "", "image/png", 400, "image 0: the image is empty"},
      {"/v2/models/lenet5/classify", "GIF89a....", "image/gif", 400, "not a PNG or JPEG"},
      {"/v2/models/lenet5/classify?k=0", EncodePng(At(0)), "image/png", 400, "k must be"},
      {"/v2/models/lenet5/classify?top=3", EncodePng(At(0)), "image/png", 400,
       "unknown query parameter 'top'"},
      {"/v2/models/lenet5/classify", "--XyZ\r\n", "multipart/form-data; boundary=XyZ", 400,
       "headers do not end"},
      {"/v2/models/nope/classify", EncodePng(At(0)), "image/png", 404, "unknown model"},
  };
  for (const auto& e : errors) {
    HttpResult r = HttpCall(server_->http_port(), "POST", e.target, e.body,
                            {{"Content-Type", e.content_type}});
    EXPECT_EQ(r.status, e.status) << e.target << ": " << r.body;
    EXPECT_NE(r.body.find(e.message), std::string::npos) << e.target << ": " << r.body;
  }
}

TEST_F(ImageInferTest, BadImagesAreRefusedNamingTheImage) {
  const std::string png = EncodePng(At(0));
  const struct {
    std::vector<std::string> files;
    std::string message;
  } cases[] = {
      {{png, ""}, "image 1: the image is empty"},
      {{png, "not an image at all"}, "image 1: the data (19 bytes) is not a PNG or JPEG"},
      {{png.substr(0, png.size() - 20)}, "image 0: PNG data is corrupt or truncated"},
      {{EncodeJpeg(At(0)).substr(0, 200)}, "image 0: JPEG data is corrupt or truncated"},
  };
  for (const auto& c : cases) {
    grpc::Status status;
    Infer(ImageRequest(c.files), &status);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.message;
    EXPECT_NE(status.error_message().find(c.message), std::string::npos)
        << status.error_message();
  }
  inference::ModelInferRequest mismatch = ImageRequest({png, png});
  mismatch.mutable_inputs(0)->set_shape(0, 3);
  grpc::Status status;
  Infer(mismatch, &status);
  EXPECT_NE(status.error_message().find("has shape [3] but holds 2 elements"), std::string::npos)
      << status.error_message();
  // Still serving.
  Infer(ImageRequest({png}), &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace convd::e2e
