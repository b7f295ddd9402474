// Accuracy of whole networks on the GPU (engine/cuda): the served
// Fashion-MNIST LeNet-5's 10,000 predictions, which must equal PyTorch's
// on the GPU as they do on the CPU, and the tensor-core maths' cost against
// the CPU's FP32 (printed for bench/RESULTS.md). Skips cleanly without a
// GPU. Its `_emulated` twin runs on the host emulation of CUDA, where a
// tenth of Fashion-MNIST is classified and LeNet-5 stands in for AlexNet.
#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "engine/cuda/cuda_executor.h"
#include "engine/executor.h"
#include "engine/model_loader.h"
#include "gtest/gtest.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cuda/device.h"
#include "kernels/testing/numeric.h"
#include "tests/models/fashion_mnist.h"
#include "tests/models/gpu_model_testing.h"

namespace convd {
namespace {

using ::convd::testing::Emulated;
using ::convd::testing::LeftToGpus;
using ::convd::testing::RelativeDifference;

// The served LeNet-5 on the 10,000 Fashion-MNIST test images on the GPU:
// how many predictions equal PyTorch's, and how many are right.
struct FashionMnistResult {
  int agree_with_pytorch = 0;
  int correct = 0;
};

// The first `count` images (a multiple of 100).
void ClassifyFashionMnist(const CudaExecutorOptions& options, int count,
                          FashionMnistResult* result) {
  auto images = testing::ReadIdxImages(testing::FashionMnistDir() + "/t10k-images-idx3-ubyte.gz");
  ASSERT_TRUE(images.ok()) << images.status();
  auto labels = testing::ReadIdxLabels(testing::FashionMnistDir() + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(labels.ok()) << labels.status();
  std::ifstream file("models/lenet5/1/fashion_mnist_test_predictions.txt");
  std::vector<int> pytorch;
  for (int value; file >> value;) pytorch.push_back(value);
  ASSERT_EQ(pytorch.size(), 10000u);
  ASSERT_EQ(labels->size(), 10000u);
  auto model = LoadModel("models/lenet5", LoadOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  auto gpu = CudaExecutor::Create(model->plan, options);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  constexpr int kBatch = 100;
  const int pixels = images->rows * images->cols;
  std::vector<float> batch(kBatch * pixels);
  Tensor output;
  for (int first = 0; first < std::min(count, images->count); first += kBatch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i] = images->pixels[size_t{1} * first * pixels + i] / 255.0f;
    }
    ASSERT_TRUE((*gpu)->Run(batch.data(), kBatch, output).ok());
    for (int b = 0; b < kBatch; ++b) {
      const float* scores = output.data() + b * 10;
      const int predicted = static_cast<int>(std::max_element(scores, scores + 10) - scores);
      result->agree_with_pytorch += predicted == pytorch[first + b];
      result->correct += predicted == (*labels)[first + b];
    }
  }
}

TEST(GpuAccuracyTest, FashionMnistPredictionsEqualPytorchsOnTheGpu) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  FashionMnistResult result;
  const int count = Emulated() ? 1000 : 10000;
  ASSERT_NO_FATAL_FAILURE(ClassifyFashionMnist({}, count, &result));
  EXPECT_EQ(result.agree_with_pytorch, count);
  if (count == 10000) {
    EXPECT_EQ(result.correct, 9113);  // 91.13%, as on the CPU
  }
}

// The tensor-core maths (model config algorithm_policy.gpu_math).
class GpuReducedPrecisionTest : public ::testing::TestWithParam<cuda::GemmMath> {};

INSTANTIATE_TEST_SUITE_P(Maths, GpuReducedPrecisionTest,
                         ::testing::Values(cuda::GemmMath::kTf32, cuda::GemmMath::kFp16),
                         [](const auto& info) { return cuda::GemmMathLabel(info.param); });

TEST_P(GpuReducedPrecisionTest, CostsLittleAccuracy) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  // The accuracy cost, printed for bench/RESULTS.md: error of whole networks
  // against the CPU's FP32, and the Fashion-MNIST LeNet-5.
  const std::string math_name = cuda::GemmMathName(GetParam());
  CudaExecutorOptions options;
  options.math = GetParam();
  for (const char* model_dir : {"models/lenet5", "models/alexnet", "models/alexnet_original"}) {
    if (LeftToGpus(model_dir)) continue;
    auto model = LoadModel(model_dir, LoadOptions{});
    ASSERT_TRUE(model.ok()) << model.status();
    auto gpu = CudaExecutor::Create(model->plan, options);
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    EXPECT_NE(
        (*gpu)->PlanString().find(std::string(cuda::GemmMathLabel(GetParam())) + " tensor cores"),
        std::string::npos);
    Executor cpu(model->plan, ThreadPool::Default());
    const int batch = 8;
    const std::vector<float> input =
        testing::RandomVector(model->plan->graph.input().output.per_sample() * batch, 0, 1);
    Tensor expected, actual;
    ASSERT_TRUE(cpu.Run(input.data(), batch, expected).ok());
    ASSERT_TRUE((*gpu)->Run(input.data(), batch, actual).ok());
    const double difference = RelativeDifference(actual, expected);
    std::printf("%s %s: max |gpu - cpu| / max |cpu| = %.2e\n", math_name.c_str(), model_dir,
                difference);
    EXPECT_LE(difference, 2e-2) << model_dir;
    EXPECT_GT(difference, 1e-6) << model_dir << ": no rounding at all; is " << math_name << " on?";
  }
  if (Emulated()) return;  // the accuracy cost is measured on GPUs
  FashionMnistResult result;
  ASSERT_NO_FATAL_FAILURE(ClassifyFashionMnist(options, 10000, &result));
  std::printf(
      "%s Fashion-MNIST LeNet-5: %d / 10000 equal PyTorch's FP32 predictions, "
      "accuracy %.2f%% (FP32: 91.13%%)\n",
      math_name.c_str(), result.agree_with_pytorch, result.correct / 100.0);
  EXPECT_GE(result.agree_with_pytorch, 9950);
  EXPECT_NEAR(result.correct, 9113, 30);
}

}  // namespace
}  // namespace convd
