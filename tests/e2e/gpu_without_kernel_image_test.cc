// convd on a GPU older than the architectures its kernels are built for
// (bazel/cuda.bzl: sm_90 code and compute_80 PTX), such as a T4 (sm_75):
// the host emulation of CUDA made into one before the first CUDA call. The
// device is not available and says why; --device=cuda refuses to start,
// naming it; --device=auto serves on the CPU, where KIND_AUTO models
// resolve to KIND_CPU and answer, and KIND_GPU ones are refused with the
// reason. Emulated only: a real GPU's architecture is its own.
#include <cuda_runtime_api.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/elementwise_launch.h"
#include "kernels/cuda/emulation/emulated_runtime.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

class DeviceWithoutKernelImage : public ::testing::Environment {
 public:
  void SetUp() override { cuda::emulation::EmulateDeviceWithoutKernelImage(); }
};
const ::testing::Environment* const kDevice =
    ::testing::AddGlobalTestEnvironment(new DeviceWithoutKernelImage);

TEST(GpuWithoutKernelImageTest, TheDeviceIsNotAvailableAndSaysWhy) {
  EXPECT_FALSE(cuda::DeviceAvailable());
  const std::string description = cuda::DeviceDescription();
  EXPECT_TRUE(absl::StrContains(description, "(sm_75)")) << description;
  EXPECT_TRUE(absl::StrContains(description, "cannot run")) << description;
  EXPECT_TRUE(absl::StrContains(description, "no kernel image")) << description;
  // The answer is not left behind for the next launch check to report.
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  // As any launch would have found.
  auto buffer = cuda::DeviceBuffer::Allocate(4);
  ASSERT_TRUE(buffer.ok()) << buffer.status();
  EXPECT_EQ(
      cuda::LaunchBiasActivation(buffer->data(), nullptr, 4, 1, 4, {}, buffer->data(), nullptr),
      cudaErrorNoKernelImageForDevice);
}

TEST(GpuWithoutKernelImageTest, CudaRefusesToStartAndAutoServesOnTheCpu) {
  const std::string repository = MakeTempDir("without_kernel_image_repository");
  AddModel(repository, "lenet5", "lenet5", kLenetConfig, kFashionLabels);  // KIND_AUTO
  AddModel(repository, "on_gpu", "lenet5",
           std::string(kLenetConfig) + "instance_group { kind: KIND_GPU }", kFashionLabels);
  ServerOptions options = LoopbackOptions(repository);
  options.device = "cuda";
  const absl::StatusOr<std::unique_ptr<Server>> refused = Server::Start(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "--device=cuda")) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "(sm_75)")) << refused.status();

  options.device = "auto";
  std::unique_ptr<Server> server = StartServer(options);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<client::Client> client = client::CreateClient(
      {.protocol = client::Protocol::kGrpc, .host = "127.0.0.1", .port = server->grpc_port()});
  const absl::StatusOr<inference::ModelConfig> config = client->ModelConfig("lenet5", "");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->instance_group_size(), 1);
  EXPECT_EQ(config->instance_group(0).kind(), inference::ModelInstanceGroup::KIND_CPU);

  // Three fresh random images: three softmax rows of 10 classes.
  const std::vector<float> images = testing::RandomVector(3 * 28 * 28, 0.0f, 1.0f);
  const absl::StatusOr<inference::ModelInferResponse> response =
      client->Infer(FloatRequest("lenet5", {3, 1, 28, 28}, images));
  ASSERT_TRUE(response.ok()) << response.status();
  const std::vector<float> scores = OutputFloats(*response);
  ASSERT_EQ(scores.size(), 30u);
  for (int row = 0; row < 3; ++row) {
    float sum = 0.0f;
    for (int j = 0; j < 10; ++j) sum += scores[row * 10 + j];
    EXPECT_NEAR(sum, 1.0f, 1e-5f) << "row " << row;
  }

  const absl::StatusOr<bool> gpu_ready = client->ModelReady("on_gpu", "");
  ASSERT_TRUE(gpu_ready.ok()) << gpu_ready.status();
  EXPECT_FALSE(*gpu_ready);
  const absl::StatusOr<inference::RepositoryIndexResponse> index = client->RepositoryIndex();
  ASSERT_TRUE(index.ok()) << index.status();
  const auto* on_gpu = IndexEntry(*index, "on_gpu");
  ASSERT_NE(on_gpu, nullptr);
  EXPECT_TRUE(absl::StrContains(on_gpu->reason(), "KIND_GPU")) << on_gpu->reason();
}

}  // namespace
}  // namespace convd::e2e
