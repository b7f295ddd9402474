// Where a served model's instances run: each instance_group's kind resolved
// as Triton resolves it, on a CPU server and on a GPU server. The GPU
// backend is a plain table of functions (gpu_backend.h); here its
// create_runner hands out runners that mark their outputs, so each
// inference shows which kind of instance ran it, without a device.
#include "server/core/served_model.h"

#include <filesystem>
#include <fstream>
#include <future>

#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/temp_dir.h"

namespace convd {
namespace {

namespace fs = std::filesystem;
using Group = inference::ModelInstanceGroup;

constexpr float kGpuMark = -7.0f;  // what the stand-in GPU runner outputs

absl::StatusOr<LoadedModel> LenetWithGroups(const std::string& groups) {
  static int serial = 0;
  const fs::path dir =
      fs::path(testing::MakeTempDir("served_model")) / ("lenet" + std::to_string(serial++));
  fs::create_directories(dir / "1");
  fs::copy_file("models/lenet5/1/network.pbtxt", dir / "1" / "network.pbtxt");
  std::ofstream(dir / "config.pbtxt") << R"pb(
    max_batch_size: 4
    input { name: "input" dims: [1, 28, 28] }
    output { name: "prob" dims: [10] }
  )pb" << groups;
  return LoadModel(dir.string(), LoadOptions{});
}

class MarkingRunner : public InstanceRunner {
 public:
  absl::Status Run(const float*, int batch, Tensor& output, ModelStats*) override {
    output = Tensor(TensorShape{batch, 10, 1, 1});
    for (int64_t i = 0; i < output.shape().elements(); ++i) output.data()[i] = kGpuMark;
    return absl::OkStatus();
  }
};

struct StandInGpu {
  int runners_created = 0;
  absl::Status fail_with = absl::OkStatus();
  GpuBackend backend;

  StandInGpu() {
    backend.create_runner = [this](std::shared_ptr<const ExecutionPlan>,
                                   const inference::ModelConfig&)
        -> absl::StatusOr<std::unique_ptr<InstanceRunner>> {
      if (!fail_with.ok()) return fail_with;
      ++runners_created;
      return std::make_unique<MarkingRunner>();
    };
  }
};

// Runs `requests` one-image requests at once and counts how many came back
// from a GPU runner (all outputs kGpuMark) and how many from the CPU
// (softmax probabilities).
std::pair<int, int> GpuAndCpuAnswers(ServedModel& model, int requests) {
  std::vector<std::shared_ptr<InferenceJob>> jobs;
  std::vector<std::future<absl::Status>> results;
  for (int i = 0; i < requests; ++i) {
    auto job = std::make_shared<InferenceJob>();
    job->input = testing::RandomVector(28 * 28);
    auto promise = std::make_shared<std::promise<absl::Status>>();
    results.push_back(promise->get_future());
    job->done = [promise](absl::Status status) { promise->set_value(std::move(status)); };
    EXPECT_TRUE(model.scheduler().Schedule(job).ok());
    jobs.push_back(std::move(job));
  }
  int gpu = 0, cpu = 0;
  for (int i = 0; i < requests; ++i) {
    EXPECT_TRUE(results[i].get().ok());
    if (jobs[i]->output.front() == kGpuMark) {
      ++gpu;
    } else if (jobs[i]->output.front() >= 0.0f && jobs[i]->output.front() <= 1.0f) {
      ++cpu;
    }
  }
  return {gpu, cpu};
}

TEST(ServedModelTest, OnACpuServerAutoGroupsRunOnTheCpu) {
  ThreadPool pool(2);
  auto model = LenetWithGroups("instance_group { count: 2 kind: KIND_AUTO }\n"
                               "instance_group { count: 1 }");  // kind defaults to AUTO
  ASSERT_TRUE(model.ok()) << model.status();
  auto served = ServedModel::Create(std::move(*model), &pool, /*gpu=*/nullptr);
  ASSERT_TRUE(served.ok()) << served.status();
  ASSERT_EQ((*served)->config().instance_group_size(), 2);
  for (const Group& group : (*served)->config().instance_group()) {
    EXPECT_EQ(group.kind(), Group::KIND_CPU) << group.ShortDebugString();
  }
  EXPECT_EQ(GpuAndCpuAnswers(**served, 6), std::make_pair(0, 6));
}

TEST(ServedModelTest, OnACpuServerAGpuGroupIsRefusedByName) {
  ThreadPool pool(1);
  auto model = LenetWithGroups("instance_group { count: 1 kind: KIND_GPU }");
  ASSERT_TRUE(model.ok()) << model.status();
  auto served = ServedModel::Create(std::move(*model), &pool, /*gpu=*/nullptr);
  EXPECT_EQ(served.status().code(), absl::StatusCode::kUnimplemented) << served.status();
  EXPECT_NE(served.status().message().find("KIND_GPU"), std::string::npos) << served.status();
}

TEST(ServedModelTest, OnAGpuServerEachGroupRunsWhereItsKindSays) {
  ThreadPool pool(2);
  StandInGpu gpu;
  auto model = LenetWithGroups("instance_group { count: 2 kind: KIND_AUTO }\n"
                               "instance_group { count: 1 kind: KIND_CPU }");
  ASSERT_TRUE(model.ok()) << model.status();
  auto served = ServedModel::Create(std::move(*model), &pool, &gpu.backend);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(gpu.runners_created, 2);
  EXPECT_EQ((*served)->config().instance_group(0).kind(), Group::KIND_GPU);
  EXPECT_EQ((*served)->config().instance_group(1).kind(), Group::KIND_CPU);

  auto only_cpu = LenetWithGroups("instance_group { count: 1 kind: KIND_CPU }");
  ASSERT_TRUE(only_cpu.ok()) << only_cpu.status();
  auto served_on_cpu = ServedModel::Create(std::move(*only_cpu), &pool, &gpu.backend);
  ASSERT_TRUE(served_on_cpu.ok()) << served_on_cpu.status();
  EXPECT_EQ(gpu.runners_created, 2);  // none more
  EXPECT_EQ(GpuAndCpuAnswers(**served_on_cpu, 5), std::make_pair(0, 5));

  auto only_auto = LenetWithGroups("instance_group { count: 1 }");
  ASSERT_TRUE(only_auto.ok()) << only_auto.status();
  auto served_on_gpu = ServedModel::Create(std::move(*only_auto), &pool, &gpu.backend);
  ASSERT_TRUE(served_on_gpu.ok()) << served_on_gpu.status();
  EXPECT_EQ(GpuAndCpuAnswers(**served_on_gpu, 5), std::make_pair(5, 0));
}

TEST(ServedModelTest, AFailedGpuInstanceFailsTheLoadWithTheReason) {
  ThreadPool pool(1);
  StandInGpu gpu;
  gpu.fail_with = absl::ResourceExhaustedError("out of device memory uploading the weights");
  auto model = LenetWithGroups("instance_group { count: 1 }");
  ASSERT_TRUE(model.ok()) << model.status();
  auto served = ServedModel::Create(std::move(*model), &pool, &gpu.backend);
  EXPECT_EQ(served.status().code(), absl::StatusCode::kResourceExhausted) << served.status();
  EXPECT_NE(served.status().message().find("on the GPU: out of device memory"), std::string::npos)
      << served.status();
}

}  // namespace
}  // namespace convd
