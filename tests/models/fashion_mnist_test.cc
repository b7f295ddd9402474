// The bundled LeNet-5, trained on Fashion-MNIST (tools/train_lenet5.py),
// classifies all 10,000 test images through convd: at least 89% correct,
// and every class equal to the one PyTorch predicted at export time.
#include <fstream>

#include "engine/executor.h"
#include "engine/model_loader.h"
#include "gtest/gtest.h"
#include "kernels/cpu/thread_pool.h"
#include "tests/models/fashion_mnist.h"

namespace convd {
namespace {

std::vector<int> ReadPredictions(const std::string& path) {
  std::ifstream file(path);
  std::vector<int> predictions;
  for (int value; file >> value;) predictions.push_back(value);
  return predictions;
}

TEST(FashionMnistTest, TrainedLenetMatchesPytorchOnAllTestImages) {
  auto images = testing::ReadIdxImages(
      std::string(testing::kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz");
  ASSERT_TRUE(images.ok()) << images.status() << " (install dataset-fashion-mnist)";
  auto labels = testing::ReadIdxLabels(
      std::string(testing::kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(labels.ok()) << labels.status();
  ASSERT_EQ(images->count, 10000);
  const std::vector<int> pytorch =
      ReadPredictions("models/lenet5/1/fashion_mnist_test_predictions.txt");
  ASSERT_EQ(pytorch.size(), 10000u);

  auto model = LoadModel("models/lenet5", LoadOptions{});
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
      EXPECT_EQ(predicted, pytorch[first + b]) << "test image " << first + b;
    }
  }
  const double accuracy = correct / 10000.0;
  std::printf("accuracy %.4f, agreement with PyTorch %d / 10000\n", accuracy, agree);
  EXPECT_GE(accuracy, 0.89);
  EXPECT_EQ(agree, 10000);
}

}  // namespace
}  // namespace convd
