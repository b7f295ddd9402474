// The serving core without a protocol: many threads inferring while the
// model is unloaded and reloaded underneath them. Runs under TSan (gRPC is
// left out: Debian's build is not instrumented, so its hand-offs would be
// reported as races).
#include "server/core/inference_service.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/testing/model_repository.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/temp_dir.h"
#include "server/core/testing/lenet_service.h"

namespace convd {
namespace {

using testing::LenetRepository;
using testing::LenetRequest;

TEST(InferenceServiceTest, InferWhileUnloadingAndReloadingLosesNothing) {
  ThreadPool pool(2);
  ModelRepository repository(LenetRepository(pool));
  ASSERT_EQ(repository.LoadAll(), 0);
  InferenceService service(&repository, {.model_control = ModelControl::kExplicit});

  // Each client keeps sending until 10 of its requests have run; the
  // operator unloads and reloads the model 8 times meanwhile.
  constexpr int kClients = 6, kWantedEach = 10;
  std::atomic<int> ok{0}, unavailable{0}, sent{0}, callbacks{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      int mine = 0;
      for (int i = 0; mine < kWantedEach && i < 100000; ++i) {
        const int rows = 1 + (c + i) % 3;
        inference::ModelInferResponse response;
        std::promise<absl::Status> done;
        ++sent;
        inference::ModelInferRequest request = LenetRequest(rows);
        auto pending = service.Infer(request, &response, [&](absl::Status status) {
          ++callbacks;
          done.set_value(std::move(status));
        });
        const absl::Status status = done.get_future().get();
        if (status.ok()) {
          ++ok;
          ++mine;
          EXPECT_EQ(response.raw_output_contents(0).size(), rows * 10 * sizeof(float));
        } else if (status.code() == absl::StatusCode::kUnavailable) {
          ++unavailable;  // between an unload and the reload
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        } else {
          ADD_FAILURE() << status;
        }
      }
      EXPECT_EQ(mine, kWantedEach);
    });
  }
  std::thread operator_thread([&] {
    for (int cycle = 0; cycle < 8; ++cycle) {
      inference::RepositoryModelUnloadRequest unload;
      unload.set_model_name("lenet");
      EXPECT_TRUE(service.RepositoryModelUnload(unload).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      inference::RepositoryModelLoadRequest load;
      load.set_model_name("lenet");
      EXPECT_TRUE(service.RepositoryModelLoad(load).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (std::thread& client : clients) client.join();
  operator_thread.join();
  std::printf("ok %d, unavailable %d\n", ok.load(), unavailable.load());
  EXPECT_EQ(callbacks.load(), sent.load()) << "every request is answered exactly once";
  EXPECT_EQ(ok.load(), kClients * kWantedEach);


  inference::ModelStatisticsRequest request;
  request.set_name("lenet");
  EXPECT_TRUE(service.ModelStatistics(request).ok());
  EXPECT_TRUE(service.Ready());
  inference::RepositoryModelUnloadRequest unload;
  unload.set_model_name("lenet");
  ASSERT_TRUE(service.RepositoryModelUnload(unload).ok());
  EXPECT_TRUE(service.Ready()) << "a model unloaded on purpose does not make the server unready";
  service.BeginDrain();
  inference::ModelInferResponse response;
  absl::Status refused;
  inference::ModelInferRequest infer = LenetRequest(1);
  EXPECT_EQ(service.Infer(infer, &response, [&](absl::Status s) { refused = s; }), nullptr);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(service.Ready());
}

// A stand-in GPU (server/core/gpu_backend.h) whose instances answer zeros
// and whose health a test sets, as the CUDA backend's does when a kernel
// fault loses the device's context.
class StandInGpu {
 public:
  StandInGpu() {
    backend_.description = [] { return std::string("Stand-in H0 (sm_00)"); };
    backend_.create_runner =
        [this](std::shared_ptr<const ExecutionPlan> plan,
               const inference::ModelConfig&) -> absl::StatusOr<std::unique_ptr<InstanceRunner>> {
      std::lock_guard<std::mutex> lock(mutex_);
      plans_.push_back(std::move(plan));
      return std::make_unique<ZeroRunner>();
    };
    backend_.health = [this] {
      std::lock_guard<std::mutex> lock(mutex_);
      return fault_;
    };
  }
  const GpuBackend* backend() const { return &backend_; }
  void Fail(absl::Status fault) {
    std::lock_guard<std::mutex> lock(mutex_);
    fault_ = std::move(fault);
  }
  // The plans its instances were created with, in order.
  std::vector<std::shared_ptr<const ExecutionPlan>> plans() {
    std::lock_guard<std::mutex> lock(mutex_);
    return plans_;
  }

 private:
  class ZeroRunner : public InstanceRunner {
   public:
    absl::Status Run(const float*, int batch, Tensor& output, ModelStats*) override {
      output = Tensor(TensorShape{batch, 10, 1, 1});
      return absl::OkStatus();
    }
    absl::Status Reserve(int) override { return absl::OkStatus(); }
    MemoryUse memory() const override { return {}; }
  };

  GpuBackend backend_;
  std::mutex mutex_;
  absl::Status fault_;  // guarded by mutex_
  std::vector<std::shared_ptr<const ExecutionPlan>> plans_;  // guarded by mutex_
};

// A repository of `root` whose models run on `pool` and `gpu`.
RepositoryOptions OnTheStandInGpu(const std::string& root, ThreadPool& pool,
                                  const StandInGpu& gpu) {
  RepositoryOptions options;
  options.root = root;
  options.thread_pool = &pool;
  options.load.thread_pool = &pool;
  options.gpu = gpu.backend();
  return options;
}

// Infers `request` and returns the response, or the failure.
absl::StatusOr<inference::ModelInferResponse> InferAndWait(InferenceService& service,
                                                           inference::ModelInferRequest& request) {
  inference::ModelInferResponse response;
  std::promise<absl::Status> done;
  service.Infer(request, &response,
                [&](absl::Status status) { done.set_value(std::move(status)); });
  absl::Status status = done.get_future().get();
  if (!status.ok()) return status;
  return response;
}

absl::Status InferOnce(InferenceService& service, const std::string& model) {
  inference::ModelInferRequest request = LenetRequest(1, model);
  absl::StatusOr<inference::ModelInferResponse> response = InferAndWait(service, request);
  if (response.ok() && (response->raw_output_contents_size() != 1 ||
                        response->raw_output_contents(0).size() != 10 * sizeof(float))) {
    return absl::InternalError(
        absl::StrCat("not one output of 10 floats: ", response->DebugString()));
  }
  return response.status();
}

bool ModelReady(const InferenceService& service, const std::string& model) {
  inference::ModelReadyRequest request;
  request.set_name(model);
  absl::StatusOr<bool> ready = service.ModelReady(request);
  return ready.ok() && *ready;
}

TEST(InferenceServiceTest, RawFp32InputIsTakenFromTheRequestAndInfersAsTypedContentsDo) {
  ThreadPool pool(2);
  ModelRepository repository(LenetRepository(pool));
  ASSERT_EQ(repository.LoadAll(), 0);
  InferenceService service(&repository, {});

  inference::ModelInferRequest raw = LenetRequest(3);
  inference::ModelInferRequest typed = raw;
  const std::string& bytes = raw.raw_input_contents(0);
  std::vector<float> floats(bytes.size() / sizeof(float));
  std::memcpy(floats.data(), bytes.data(), bytes.size());
  typed.clear_raw_input_contents();
  *typed.mutable_inputs(0)->mutable_contents()->mutable_fp32_contents() = {floats.begin(),
                                                                           floats.end()};
  // One at a time: each runs alone at batch 3, so the outputs match bit for bit.
  absl::StatusOr<inference::ModelInferResponse> from_raw = InferAndWait(service, raw);
  ASSERT_TRUE(from_raw.ok()) << from_raw.status();
  EXPECT_TRUE(raw.raw_input_contents(0).empty()) << "the input bytes were copied, not taken";
  absl::StatusOr<inference::ModelInferResponse> from_typed = InferAndWait(service, typed);
  ASSERT_TRUE(from_typed.ok()) << from_typed.status();
  ASSERT_EQ(from_raw->raw_output_contents(0).size(), 3 * 10 * sizeof(float));
  EXPECT_EQ(from_raw->raw_output_contents(0), from_typed->raw_output_contents(0));

  // A byte count that does not match the shape is refused as before.
  inference::ModelInferRequest short_by_one = LenetRequest(2);
  short_by_one.mutable_raw_input_contents(0)->pop_back();
  const absl::Status refused = InferAndWait(service, short_by_one).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "holds 6271 bytes")) << refused;
}

TEST(InferenceServiceTest, ALoadWithAJsonConfigUsesItForThatLoadOnly) {
  ThreadPool pool(2);
  ModelRepository repository(LenetRepository(pool));
  ASSERT_EQ(repository.LoadAll(), 0);
  InferenceService service(&repository, {.model_control = ModelControl::kExplicit});
  auto load = [&](std::optional<inference::ModelRepositoryParameter> parameter,
                  const std::string& key = "config") {
    inference::RepositoryModelLoadRequest request;
    request.set_model_name("lenet");
    if (parameter.has_value()) (*request.mutable_parameters())[key] = *parameter;
    return service.RepositoryModelLoad(request);
  };
  auto served = [&] {
    inference::ModelConfigRequest request;
    request.set_name("lenet");
    absl::StatusOr<inference::ModelConfigResponse> response = service.ModelConfig(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? response->config() : inference::ModelConfig();
  };
  auto text = [](const std::string& json) {
    inference::ModelRepositoryParameter parameter;
    parameter.set_string_param(json);
    return parameter;
  };
  ASSERT_EQ(served().max_batch_size(), 8);
  inference::ModelInferRequest two = LenetRequest(2), three_rows = LenetRequest(3);
  auto infer = [&](inference::ModelInferRequest request) {
    return InferAndWait(service, request).status();
  };

  // As a client sends it: int64 dims as strings or numbers, enums by name.
  ASSERT_TRUE(load(text(R"({"name": "lenet", "max_batch_size": 2,
      "input": [{"name": "input", "dims": ["1", "28", "28"]}],
      "output": [{"name": "prob", "dims": [10]}],
      "instance_group": [{"count": 3, "kind": "KIND_CPU"}]})"))
                  .ok());
  EXPECT_EQ(served().max_batch_size(), 2);
  EXPECT_EQ(served().instance_group(0).count(), 3);
  EXPECT_FALSE(served().has_dynamic_batching()) << "config.pbtxt's batching came along";
  EXPECT_TRUE(infer(two).ok());
  const absl::Status three = infer(three_rows);
  EXPECT_EQ(three.code(), absl::StatusCode::kInvalidArgument) << three;

  // Refused, naming the problem; the last load serves on.
  for (const auto& [parameter, code, message] :
       std::vector<std::tuple<inference::ModelRepositoryParameter, absl::StatusCode, std::string>>{
           {text(R"({"max_batch_size": 4, "no_such_field": 1})"),
            absl::StatusCode::kInvalidArgument, "no_such_field"},
           {text("{max_batch_size: 4"), absl::StatusCode::kInvalidArgument,
            "does not parse as a ModelConfig in JSON"},
           {text(R"({"name": "other", "max_batch_size": 4,
               "input": [{"name": "input", "dims": [1, 28, 28]}],
               "output": [{"name": "prob", "dims": [10]}]})"),
            absl::StatusCode::kInvalidArgument, "other"},
       }) {
    const absl::Status status = load(parameter);
    EXPECT_EQ(status.code(), code) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), message)) << status;
  }
  inference::ModelRepositoryParameter number;
  number.set_int64_param(4);
  const absl::Status not_text = load(number);
  EXPECT_EQ(not_text.code(), absl::StatusCode::kInvalidArgument) << not_text;
  EXPECT_TRUE(absl::StrContains(not_text.message(), "must be a string")) << not_text;
  EXPECT_EQ(load(text("abc"), "file:1/model.onnx").code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(served().max_batch_size(), 2);
  EXPECT_TRUE(infer(two).ok());

  // The next load without one reads config.pbtxt again.
  ASSERT_TRUE(load(std::nullopt).ok());
  EXPECT_EQ(served().max_batch_size(), 8);
  EXPECT_TRUE(served().has_dynamic_batching());
  EXPECT_TRUE(infer(three_rows).ok());
}

TEST(InferenceServiceTest, AFailedGpuTakesItsModelsAndLivenessButLeavesTheCpuModelsServing) {
  const std::string root = testing::MakeTempDir("gpu_fault_repository");
  const std::string config = R"pb(
    max_batch_size: 8
    input { name: "input" dims: [1, 28, 28] }
    output { name: "prob" dims: [10] }
  )pb";
  testing::AddModel(root, "on_gpu", "lenet5", config + "instance_group { kind: KIND_GPU }");
  testing::AddModel(root, "on_cpu", "lenet5", config + "instance_group { kind: KIND_CPU }");
  StandInGpu gpu;
  ThreadPool pool(1);
  ModelRepository repository(OnTheStandInGpu(root, pool, gpu));
  ASSERT_EQ(repository.LoadAll(), 0);
  InferenceService service(&repository, {.model_control = ModelControl::kExplicit});
  EXPECT_TRUE(service.Live());
  EXPECT_TRUE(service.Ready());
  EXPECT_TRUE(InferOnce(service, "on_gpu").ok());

  const std::string fault = "the GPU (Stand-in H0 (sm_00)) failed: cudaErrorLaunchFailure";
  gpu.Fail(absl::UnavailableError(fault));
  EXPECT_FALSE(service.Live()) << "only a restart gets a new CUDA context";
  EXPECT_FALSE(service.Ready());
  EXPECT_FALSE(ModelReady(service, "on_gpu"));
  EXPECT_TRUE(ModelReady(service, "on_cpu"));
  const absl::Status refused = InferOnce(service, "on_gpu");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), fault)) << refused;
  EXPECT_TRUE(InferOnce(service, "on_cpu").ok());
  bool listed = false;
  const inference::RepositoryIndexResponse index = service.RepositoryIndex({});
  for (const auto& model : index.models()) {
    if (model.name() == "on_gpu") {
      listed = true;
      EXPECT_EQ(model.state(), "UNAVAILABLE");
      EXPECT_EQ(model.reason(), fault);
    } else {
      EXPECT_EQ(model.state(), "READY") << model.name();
    }
  }
  EXPECT_TRUE(listed);

  // Unloaded on purpose, the GPU model no longer holds readiness back; the
  // process still needs its restart.
  inference::RepositoryModelUnloadRequest unload;
  unload.set_model_name("on_gpu");
  ASSERT_TRUE(service.RepositoryModelUnload(unload).ok());
  EXPECT_TRUE(service.Ready());
  EXPECT_FALSE(service.Live());
}

// A model whose instances all run on the GPU has its algorithms autotuned
// there (by the GPU backend, from the plan's policy), not also on the CPU;
// one with a CPU instance times the CPU's too.
TEST(InferenceServiceTest, OnlyModelsWithCpuInstancesAutotuneOnTheCpu) {
  const std::string root = testing::MakeTempDir("gpu_autotune_repository");
  const std::string config = R"pb(
    max_batch_size: 8
    input { name: "input" dims: [1, 28, 28] }
    output { name: "prob" dims: [10] }
    algorithm_policy { mode: AUTOTUNE }
  )pb";
  testing::AddModel(root, "gpu_only", "lenet5", config + "instance_group { kind: KIND_AUTO }");
  StandInGpu gpu;
  ThreadPool pool(1);
  ModelRepository repository(OnTheStandInGpu(root, pool, gpu));
  ASSERT_EQ(repository.LoadAll(), 0);
  testing::AddModel(root, "mixed", "lenet5",
                    config +
                        "instance_group { kind: KIND_GPU }\n"
                        "instance_group { kind: KIND_CPU }");
  ASSERT_TRUE(repository.Load("mixed").ok());
  const auto plans = gpu.plans();
  ASSERT_EQ(plans.size(), 2u);  // one GPU instance each
  for (size_t model = 0; model < plans.size(); ++model) {
    const ExecutionPlan& plan = *plans[model];
    EXPECT_EQ(plan.policy.mode, AlgorithmPolicy::Mode::kAutotune) << "kept for the GPU";
    int convolutions = 0;
    for (size_t i = 0; i < plan.graph.layers.size(); ++i) {
      if (plan.graph.layers[i].kind != LayerKind::kConvolution) continue;
      ++convolutions;
      const std::string& why = plan.layers[i].why;
      EXPECT_TRUE(absl::StartsWith(
          why, model == 0 ? "the GPU autotunes; heuristic: " : "autotune at batch "))
          << (model == 0 ? "gpu_only" : "mixed") << ": " << why;
    }
    EXPECT_EQ(convolutions, 2);
  }
}

}  // namespace
}  // namespace convd
