// convd when its GPU fails for good: the real server on loopback with
// --device=cuda serving LeNet-5 on the GPU and a copy on the CPU, and then
// a kernel that traps (kernels/cuda/fault_injection.h), which loses the
// process's CUDA context as an illegal address would. The request that
// meets the fault is answered UNAVAILABLE, naming the CUDA error; the GPU
// model then reports not ready with that reason, reloads are refused, the
// server is neither ready nor live (over gRPC and HTTP), /metrics says the
// GPU is unhealthy, the CPU model keeps serving the same answers, and the
// server shuts down cleanly on a device that no longer answers.
//
// One test in a binary of its own: after the trap nothing in this process
// can use the device. Built twice (cuda_test): on a GPU, where it skips
// without one (bench/gpu_check.sh runs it), and on the emulation in every
// `make test`.
#include <cuda_runtime_api.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/http_connection.h"
#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/fault_injection.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

// The same KServe v2 calls over gRPC and over HTTP (client/client.h), so
// that health is checked on both protocols.
struct Clients {
  explicit Clients(const Server& server)
      : grpc(client::CreateClient({.protocol = client::Protocol::kGrpc,
                                   .host = "127.0.0.1",
                                   .port = server.grpc_port()})),
        http(client::CreateClient({.protocol = client::Protocol::kHttp,
                                   .host = "127.0.0.1",
                                   .port = server.http_port()})) {}

  // ServerLive or ServerReady as both protocols answer it (HTTP: 200 or
  // 503), which must agree.
  bool Health(absl::StatusOr<bool> (client::Client::*probe)()) {
    const absl::StatusOr<bool> over_grpc = (grpc.get()->*probe)();
    const absl::StatusOr<bool> over_http = (http.get()->*probe)();
    EXPECT_TRUE(over_grpc.ok()) << over_grpc.status();
    EXPECT_TRUE(over_http.ok()) << over_http.status();
    EXPECT_EQ(over_grpc.value_or(false), over_http.value_or(false));
    return over_grpc.value_or(false);
  }
  bool Live() { return Health(&client::Client::ServerLive); }
  bool Ready() { return Health(&client::Client::ServerReady); }
  bool ModelReady(const std::string& model) {
    const absl::StatusOr<bool> ready = grpc->ModelReady(model, "");
    EXPECT_TRUE(ready.ok()) << ready.status();
    return ready.value_or(false);
  }
  absl::StatusOr<std::vector<float>> Infer(const std::string& model,
                                           const std::vector<float>& images) {
    const int rows = static_cast<int>(images.size() / (28 * 28));
    absl::StatusOr<inference::ModelInferResponse> response =
        grpc->Infer(FloatRequest(model, {rows, 1, 28, 28}, images));
    if (!response.ok()) return response.status();
    return OutputFloats(*response);
  }

  std::unique_ptr<client::Client> grpc;
  std::unique_ptr<client::Client> http;
};

TEST(GpuFaultTest, ALostGpuTakesItsModelAndLivenessAndTheCpuModelServesOn) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << cuda::DeviceDescription();
  const std::string repository = MakeTempDir("gpu_fault_repository");
  AddModel(repository, "on_gpu", "lenet5",
           std::string(kLenetConfig) + "instance_group { kind: KIND_GPU }", kFashionLabels);
  AddModel(repository, "on_cpu", "lenet5",
           std::string(kLenetConfig) + "instance_group { kind: KIND_CPU }", kFashionLabels);
  ServerOptions options = LoopbackOptions(repository);
  options.device = "cuda";
  options.model_control = ModelControl::kExplicit;
  std::unique_ptr<Server> server = StartServer(options);
  ASSERT_NE(server, nullptr);
  Clients client(*server);
  const std::string gpu_series =
      absl::StrCat("convd_gpu_healthy{gpu=\"", cuda::DeviceDescription(), "\"}");
  auto metric = [&](const std::string& series) {
    const client::HttpResult metrics = client::HttpCall(server->metrics_port(), "GET", "/metrics");
    EXPECT_EQ(metrics.status, 200) << metrics.body;
    return PrometheusSample(metrics.body, series);
  };

  // Healthy: both models serve the same scores for fresh random images.
  const std::vector<float> images = testing::RandomVector(5 * 28 * 28, 0.0f, 1.0f);
  const absl::StatusOr<std::vector<float>> on_gpu = client.Infer("on_gpu", images);
  const absl::StatusOr<std::vector<float>> on_cpu = client.Infer("on_cpu", images);
  ASSERT_TRUE(on_gpu.ok()) << on_gpu.status();
  ASSERT_TRUE(on_cpu.ok()) << on_cpu.status();
  ASSERT_EQ(on_gpu->size(), 50u);
  EXPECT_LE(testing::MaxRelativeError(on_gpu->data(), {on_cpu->begin(), on_cpu->end()}), 1e-4);
  EXPECT_TRUE(client.Live());
  EXPECT_TRUE(client.Ready());
  EXPECT_EQ(metric(gpu_series), 1.0);

  const cudaError_t trapped = cuda::TrapOnDevice();
  ASSERT_NE(trapped, cudaSuccess);
  const std::string error_name = cudaGetErrorName(trapped);

  // The request that meets the fault, and every one after it.
  const absl::Status met = client.Infer("on_gpu", images).status();
  EXPECT_EQ(met.code(), absl::StatusCode::kUnavailable) << met;
  EXPECT_TRUE(absl::StrContains(met.message(), error_name)) << met;
  EXPECT_TRUE(absl::StrContains(met.message(), "until convd restarts")) << met;
  const absl::Status after = client.Infer("on_gpu", images).status();
  EXPECT_EQ(after.code(), absl::StatusCode::kUnavailable) << after;
  EXPECT_TRUE(absl::StrContains(after.message(), "is not ready")) << after;

  EXPECT_FALSE(client.ModelReady("on_gpu"));
  EXPECT_TRUE(client.ModelReady("on_cpu"));
  const absl::StatusOr<inference::RepositoryIndexResponse> index = client.grpc->RepositoryIndex();
  ASSERT_TRUE(index.ok()) << index.status();
  const auto* gpu_entry = IndexEntry(*index, "on_gpu");
  ASSERT_NE(gpu_entry, nullptr);
  EXPECT_EQ(gpu_entry->state(), "UNAVAILABLE");
  EXPECT_TRUE(absl::StrContains(gpu_entry->reason(), error_name)) << gpu_entry->reason();
  EXPECT_FALSE(client.Live()) << "only a restart gets a new CUDA context";
  EXPECT_FALSE(client.Ready());
  EXPECT_EQ(metric(gpu_series), 0.0);
  // A reload cannot bring it back; the versions it had stay (unready).
  const absl::Status reload = client.grpc->LoadModel("on_gpu", "");
  EXPECT_FALSE(reload.ok());
  EXPECT_TRUE(absl::StrContains(reload.message(), "context is lost")) << reload;
  EXPECT_FALSE(client.ModelReady("on_gpu"));

  // The CPU model serves on, with the same answers.
  const absl::StatusOr<std::vector<float>> still = client.Infer("on_cpu", images);
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(*still, *on_cpu);

  server.reset();  // shuts down over a device that answers every call with the fault
}

}  // namespace
}  // namespace convd::e2e
