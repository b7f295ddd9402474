// The bundled LeNet-5, trained on Fashion-MNIST (tools/train_lenet5.py),
// classifies all 10,000 test images through convd: at least 89% correct,
// and every class equal to the one PyTorch predicted at export time. With
// its fully connected weights stored as FP16 (algorithm_policy.
// cpu_weights), the accuracy holds and the classes nearly all agree.
#include "tests/models/fashion_mnist.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/executor.h"
#include "engine/model_loader.h"
#include "gtest/gtest.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/testing/temp_dir.h"

namespace convd {
namespace {

std::vector<int> ReadPredictions(const std::string& path) {
  std::ifstream file(path);
  std::vector<int> predictions;
  for (int value; file >> value;) predictions.push_back(value);
  return predictions;
}

// Classifies the 10,000 test images with the model in `model_dir`, loaded
// with `options`; at least `min_agreement` classes must be PyTorch's.
// `probabilities`, if not null, receives every image's outputs.
void ExpectMatchesPytorch(const std::string& model_dir, const LoadOptions& options = {},
                          int min_agreement = 10000, std::vector<float>* probabilities = nullptr) {
  auto images = testing::ReadIdxImages(
      testing::FashionMnistDir() + "/t10k-images-idx3-ubyte.gz");
  ASSERT_TRUE(images.ok()) << images.status() << " (install dataset-fashion-mnist)";
  auto labels = testing::ReadIdxLabels(
      testing::FashionMnistDir() + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(labels.ok()) << labels.status();
  ASSERT_EQ(images->count, 10000);
  const std::vector<int> pytorch =
      ReadPredictions("models/lenet5/1/fashion_mnist_test_predictions.txt");
  ASSERT_EQ(pytorch.size(), 10000u);

  auto model = LoadModel(model_dir, options);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_FALSE(model->generated_weights) << "models/lenet5 must ship its trained weights";
  Executor executor(model->plan, ThreadPool::Default());

  constexpr int kBatch = 100;
  const int pixels_per_image = images->rows * images->cols;
  std::vector<float> batch(kBatch * pixels_per_image);
  int correct = 0, agree = 0;
  Tensor output;
  for (int first = 0; first < images->count; first += kBatch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i] = images->pixels[size_t{1} * first * pixels_per_image + i] / 255.0f;
    }
    ASSERT_TRUE(executor.Run(batch.data(), kBatch, output).ok());
    for (int b = 0; b < kBatch; ++b) {
      const float* scores = output.data() + b * 10;
      const int predicted = static_cast<int>(std::max_element(scores, scores + 10) - scores);
      correct += predicted == (*labels)[first + b];
      agree += predicted == pytorch[first + b];
      if (min_agreement == 10000) {
        EXPECT_EQ(predicted, pytorch[first + b]) << "test image " << first + b;
      }
    }
    if (probabilities)
      probabilities->insert(probabilities->end(), output.data(), output.data() + kBatch * 10);
  }
  const double accuracy = correct / 10000.0;
  std::printf("%s: accuracy %.4f, agreement with PyTorch %d / 10000\n", model_dir.c_str(),
              accuracy, agree);
  EXPECT_GE(accuracy, 0.89);
  EXPECT_GE(agree, min_agreement);
}

TEST(FashionMnistTest, BundledOnnxModelMatchesPytorchOnAllTestImages) {
  ExpectMatchesPytorch("models/lenet5");  // platform onnx: 1/model.onnx
}

TEST(FashionMnistTest, SameWeightsAsConvdNetworkMatchPytorchToo) {
  const std::filesystem::path dir = testing::MakeTempDir("lenet5_network");
  std::filesystem::create_directories(dir / "1");
  for (const char* file : {"1/network.pbtxt", "1/weights.safetensors"}) {
    std::filesystem::copy_file(std::filesystem::path("models/lenet5") / file, dir / file);
  }
  std::ofstream(dir / "config.pbtxt") << R"pb(
    platform: "convd_network"
    max_batch_size: 100
    input { name: "input" dims: [1, 28, 28] }
    output { name: "prob" dims: [10] }
  )pb";
  ExpectMatchesPytorch(dir.string());
}

TEST(FashionMnistTest, Fp16FullyConnectedWeightsKeepTheAccuracy) {
  std::vector<float> fp32, fp16;
  ExpectMatchesPytorch("models/lenet5", {}, 10000, &fp32);
  LoadOptions options;
  options.cpu_weights_override = AlgorithmPolicy::CpuWeights::kFp16;
  options.gpu_runs_plan = false;
  ExpectMatchesPytorch("models/lenet5", options, 9990, &fp16);
  ASSERT_EQ(fp32.size(), fp16.size());
  double largest = 0;
  for (size_t i = 0; i < fp32.size(); ++i) {
    largest = std::max<double>(largest, std::abs(fp32[i] - fp16[i]));
  }
  std::printf("FP16 fully connected weights: largest probability difference from FP32 %.3g\n",
              largest);
  EXPECT_GT(largest, 0.0) << "the weights were not rounded";
  EXPECT_LT(largest, 1e-2);
}

}  // namespace
}  // namespace convd
