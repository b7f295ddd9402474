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
#include "client/http_connection.h"
#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/fault_injection.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

class Client {
 public:
  explicit Client(const Server& server)
      : stub_(Connect(server.grpc_port())), http_port_(server.http_port()) {}

  grpc::Status Infer(const std::string& model, const std::vector<float>& images,
                     std::vector<float>* scores) {
    const int rows = static_cast<int>(images.size() / (28 * 28));
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    const grpc::Status status =
        stub_->ModelInfer(&context, FloatRequest(model, {rows, 1, 28, 28}, images), &response);
    if (status.ok()) *scores = OutputFloats(response);
    return status;
  }
  bool ModelReady(const std::string& model) {
    grpc::ClientContext context;
    inference::ModelReadyRequest request;
    request.set_name(model);
    inference::ModelReadyResponse response;
    EXPECT_TRUE(stub_->ModelReady(&context, request, &response).ok());
    return response.ready();
  }
  // gRPC's ServerLive and ServerReady, checked against HTTP's
  // /v2/health/live and /v2/health/ready (200, or 503).
  bool Live() { return Health("live"); }
  bool Ready() { return Health("ready"); }
  inference::RepositoryIndexResponse Index() {
    grpc::ClientContext context;
    inference::RepositoryIndexResponse index;
    EXPECT_TRUE(stub_->RepositoryIndex(&context, {}, &index).ok());
    return index;
  }
  grpc::Status Load(const std::string& model) {
    grpc::ClientContext context;
    inference::RepositoryModelLoadRequest request;
    request.set_model_name(model);
    inference::RepositoryModelLoadResponse response;
    return stub_->RepositoryModelLoad(&context, request, &response);
  }

 private:
  bool Health(const std::string& what) {
    grpc::ClientContext context;
    bool grpc_says = false;
    if (what == "live") {
      inference::ServerLiveResponse response;
      EXPECT_TRUE(stub_->ServerLive(&context, {}, &response).ok());
      grpc_says = response.live();
    } else {
      inference::ServerReadyResponse response;
      EXPECT_TRUE(stub_->ServerReady(&context, {}, &response).ok());
      grpc_says = response.ready();
    }
    const client::HttpResult http = client::HttpCall(http_port_, "GET", "/v2/health/" + what);
    EXPECT_EQ(http.status, grpc_says ? 200 : 503) << what << ": " << http.body;
    return grpc_says;
  }

  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
  int http_port_;
};

TEST(GpuFaultTest, ALostGpuTakesItsModelAndLivenessAndTheCpuModelServesOn) {
  if (!cuda::DeviceAvailable()) GTEST_SKIP() << "no CUDA device: " << cuda::DeviceDescription();
  const std::string repository = MakeTempDir("gpu_fault_repository");
  AddModel(repository, "on_gpu", "lenet5",
           std::string(kLenetConfig) + "instance_group { kind: KIND_GPU }", kFashionLabels);
  AddModel(repository, "on_cpu", "lenet5",
           std::string(kLenetConfig) + "instance_group { kind: KIND_CPU }", kFashionLabels);
  ServerOptions options = LoopbackOptions(repository);
  options.device = "cuda";
  options.allow_model_control = true;
  std::unique_ptr<Server> server = StartServer(options);
  ASSERT_NE(server, nullptr);
  Client client(*server);
  const std::string gpu_series =
      absl::StrCat("convd_gpu_healthy{gpu=\"", cuda::DeviceDescription(), "\"}");
  auto metric = [&](const std::string& series) {
    const client::HttpResult metrics = client::HttpCall(server->metrics_port(), "GET", "/metrics");
    EXPECT_EQ(metrics.status, 200) << metrics.body;
    return PrometheusSample(metrics.body, series);
  };

  // Healthy: both models serve the same scores for fresh random images.
  const std::vector<float> images = testing::RandomVector(5 * 28 * 28, 0.0f, 1.0f);
  std::vector<float> on_gpu, on_cpu;
  ASSERT_TRUE(client.Infer("on_gpu", images, &on_gpu).ok());
  ASSERT_TRUE(client.Infer("on_cpu", images, &on_cpu).ok());
  ASSERT_EQ(on_gpu.size(), 50u);
  EXPECT_LE(testing::MaxRelativeError(on_gpu.data(), {on_cpu.begin(), on_cpu.end()}), 1e-4);
  EXPECT_TRUE(client.Live());
  EXPECT_TRUE(client.Ready());
  EXPECT_EQ(metric(gpu_series), 1.0);

  const cudaError_t trapped = cuda::TrapOnDevice();
  ASSERT_NE(trapped, cudaSuccess);
  const std::string error_name = cudaGetErrorName(trapped);

  // The request that meets the fault, and every one after it.
  std::vector<float> scores;
  const grpc::Status met = client.Infer("on_gpu", images, &scores);
  EXPECT_EQ(met.error_code(), grpc::StatusCode::UNAVAILABLE) << met.error_message();
  EXPECT_TRUE(absl::StrContains(met.error_message(), error_name)) << met.error_message();
  EXPECT_TRUE(absl::StrContains(met.error_message(), "until convd restarts"))
      << met.error_message();
  const grpc::Status after = client.Infer("on_gpu", images, &scores);
  EXPECT_EQ(after.error_code(), grpc::StatusCode::UNAVAILABLE) << after.error_message();
  EXPECT_TRUE(absl::StrContains(after.error_message(), "is not ready")) << after.error_message();

  EXPECT_FALSE(client.ModelReady("on_gpu"));
  EXPECT_TRUE(client.ModelReady("on_cpu"));
  bool listed = false;
  const inference::RepositoryIndexResponse index = client.Index();
  for (const auto& model : index.models()) {
    if (model.name() != "on_gpu") continue;
    listed = true;
    EXPECT_EQ(model.state(), "UNAVAILABLE");
    EXPECT_TRUE(absl::StrContains(model.reason(), error_name)) << model.reason();
  }
  EXPECT_TRUE(listed);
  EXPECT_FALSE(client.Live()) << "only a restart gets a new CUDA context";
  EXPECT_FALSE(client.Ready());
  EXPECT_EQ(metric(gpu_series), 0.0);
  // A reload cannot bring it back; the versions it had stay (unready).
  const grpc::Status reload = client.Load("on_gpu");
  EXPECT_FALSE(reload.ok());
  EXPECT_TRUE(absl::StrContains(reload.error_message(), "context is lost"))
      << reload.error_message();
  EXPECT_FALSE(client.ModelReady("on_gpu"));

  // The CPU model serves on, with the same answers.
  std::vector<float> still;
  const grpc::Status cpu = client.Infer("on_cpu", images, &still);
  ASSERT_TRUE(cpu.ok()) << cpu.error_message();
  EXPECT_EQ(still, on_cpu);

  server.reset();  // shuts down over a device that answers every call with the fault
}

}  // namespace
}  // namespace convd::e2e
