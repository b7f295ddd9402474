// Where a served model's instances run: each instance_group's kind resolved
// as Triton resolves it, on a CPU server and on a GPU server. The GPU
// backend is a plain table of functions (gpu_backend.h); here its
// create_runner hands out runners that mark their outputs, so each
// inference shows which kind of instance ran it, without a device.
#include "server/core/served_model.h"

#include <filesystem>
#include <fstream>
#include <future>

#include "engine/executor.h"
#include "engine/model_config.h"
#include "engine/testing/model_repository.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/temp_dir.h"

namespace convd {
namespace {

namespace fs = std::filesystem;
using Group = inference::ModelInstanceGroup;

constexpr float kGpuMark = -7.0f;  // what the stand-in GPU runner outputs

constexpr char kLenetConfig[] = R"pb(
  max_batch_size: 4
  input { name: "input" dims: [1, 28, 28] }
  output { name: "prob" dims: [10] }
)pb";

absl::StatusOr<LoadedModel> LenetWithGroups(const std::string& groups) {
  static int serial = 0;
  const std::string dir = testing::AddModel(testing::MakeTempDir("served_model"),
                                            "lenet" + std::to_string(serial++), "lenet5",
                                            kLenetConfig + groups);
  return LoadModel(dir, LoadOptions{});
}

// Holds, once reserved, kPinnedPerRow pinned and kDevicePerRow device
// bytes per row of its largest batch.
constexpr int64_t kPinnedPerRow = 1000, kDevicePerRow = 70000;

// Adds a model_warmup sample for LeNet's input to a loaded model and
// normalizes the config again, as a load would; returns its input to fill
// in. (Built here, not parsed from text: the sanitizer build's protobuf
// cannot text-parse map fields, see the Makefile's test-tsan.)
inference::ModelWarmup::Input& AddWarmup(LoadedModel& model, const std::string& name, int batch,
                                         int count, inference::DataType type) {
  inference::ModelWarmup& warmup = *model.config.add_model_warmup();
  warmup.set_name(name);
  warmup.set_batch_size(batch);
  warmup.set_count(count);
  inference::ModelWarmup::Input& input = (*warmup.mutable_inputs())["input"];
  input.set_data_type(type);
  for (int64_t d : {1, 28, 28}) input.add_dims(d);
  return input;
}

// The config checks after the data is chosen (AddWarmup's caller sets it).
void Normalize(LoadedModel& model) {
  const absl::Status status = NormalizeModelConfig(model.config.name(), model.config);
  ASSERT_TRUE(status.ok()) << status;
}

class MarkingRunner : public InstanceRunner {
 public:
  explicit MarkingRunner(absl::Status reserve_fails_with)
      : reserve_fails_with_(std::move(reserve_fails_with)) {}
  absl::Status Run(const float*, int batch, Tensor& output, ModelStats*) override {
    runs.push_back(batch);
    output = Tensor(TensorShape{batch, 10, 1, 1});
    for (int64_t i = 0; i < output.shape().elements(); ++i) output.data()[i] = kGpuMark;
    return absl::OkStatus();
  }
  absl::Status Reserve(int max_batch) override {
    if (!reserve_fails_with_.ok()) return reserve_fails_with_;
    reserved_rows_ = max_batch;
    return absl::OkStatus();
  }
  MemoryUse memory() const override {
    return MemoryUse{.pinned_bytes = kPinnedPerRow * reserved_rows_,
                     .device_bytes = kDevicePerRow * reserved_rows_};
  }

  std::vector<int> runs;  // batch sizes run, in order

 private:
  absl::Status reserve_fails_with_;
  int reserved_rows_ = 0;
};

struct StandInGpu {
  int runners_created = 0;
  absl::Status fail_with = absl::OkStatus();
  absl::Status reserve_fails_with = absl::OkStatus();
  std::vector<MarkingRunner*> runners;  // owned by the models
  GpuBackend backend;

  StandInGpu() {
    backend.create_runner = [this](std::shared_ptr<const ExecutionPlan>,
                                   const inference::ModelConfig&)
        -> absl::StatusOr<std::unique_ptr<InstanceRunner>> {
      if (!fail_with.ok()) return fail_with;
      ++runners_created;
      auto runner = std::make_unique<MarkingRunner>(reserve_fails_with);
      runners.push_back(runner.get());
      return runner;
    };
  }
};

// Host bytes one CPU instance of `model` holds at its max_batch_size,
// measured on an executor of its own.
int64_t CpuInstanceBytes(const ServedModel& model, ThreadPool& pool) {
  Executor executor(std::shared_ptr<const ExecutionPlan>(&model.plan(), [](auto*) {}), &pool);
  EXPECT_TRUE(executor.Reserve(model.config().max_batch_size()).ok());
  return executor.held_bytes();
}

// Runs `requests` one-image requests at once and counts how many came back
// from a GPU runner (all outputs kGpuMark) and how many from the CPU
// (softmax probabilities).
std::pair<int, int> GpuAndCpuAnswers(ServedModel& model, int requests) {
  std::vector<std::shared_ptr<InferenceJob>> jobs;
  std::vector<std::future<absl::Status>> results;
  for (int i = 0; i < requests; ++i) {
    auto job = std::make_shared<InferenceJob>();
    job->input = JobInput(testing::RandomVector(28 * 28));
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

TEST(ServedModelTest, MemoryIsReservedAtLoadAndSplitByWhereItLives) {
  ThreadPool pool(2);
  auto cpu_model = LenetWithGroups("instance_group { count: 3 kind: KIND_CPU }");
  ASSERT_TRUE(cpu_model.ok()) << cpu_model.status();
  auto on_cpu = ServedModel::Create(std::move(*cpu_model), &pool, /*gpu=*/nullptr);
  ASSERT_TRUE(on_cpu.ok()) << on_cpu.status();
  const int64_t weights = (*on_cpu)->plan().HostWeightBytes();
  EXPECT_GE(weights, 61706 * 4);  // LeNet-5's parameters, at least
  const int64_t instance = CpuInstanceBytes(**on_cpu, pool);
  EXPECT_GT(instance, 4 * (6 * 24 * 24) * 4);  // conv1's output at batch 4, at least
  EXPECT_EQ((*on_cpu)->memory().host_bytes, weights + 3 * instance);
  EXPECT_EQ((*on_cpu)->memory().pinned_bytes, 0);
  EXPECT_EQ((*on_cpu)->memory().device_bytes, 0);

  StandInGpu gpu;
  auto mixed_model = LenetWithGroups(
      "instance_group { count: 2 kind: KIND_AUTO }\n"
      "instance_group { count: 1 kind: KIND_CPU }");
  ASSERT_TRUE(mixed_model.ok()) << mixed_model.status();
  auto mixed = ServedModel::Create(std::move(*mixed_model), &pool, &gpu.backend);
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ((*mixed)->memory().host_bytes, weights + instance);
  EXPECT_EQ((*mixed)->memory().pinned_bytes, 2 * 4 * kPinnedPerRow);  // max_batch_size 4
  EXPECT_EQ((*mixed)->memory().device_bytes, 2 * 4 * kDevicePerRow);
}

TEST(ServedModelTest, AnInstanceThatCannotHoldItsLargestBatchFailsTheLoad) {
  ThreadPool pool(1);
  StandInGpu gpu;
  gpu.reserve_fails_with = absl::ResourceExhaustedError("out of memory allocating the arena");
  auto model = LenetWithGroups(
      "instance_group { count: 1 kind: KIND_CPU }\n"
      "instance_group { count: 2 kind: KIND_GPU }");
  ASSERT_TRUE(model.ok()) << model.status();
  auto served = ServedModel::Create(std::move(*model), &pool, &gpu.backend);
  EXPECT_EQ(served.status().code(), absl::StatusCode::kResourceExhausted) << served.status();
  EXPECT_NE(served.status().message().find(
                "instance 1 of 2 on the GPU: out of memory allocating the arena"),
            std::string::npos)
      << served.status();
}

TEST(ServedModelTest, WarmupRunsOnEveryInstanceBeforeServingAndOutsideTheStatistics) {
  ThreadPool pool(2);
  StandInGpu gpu;
  auto model = LenetWithGroups("instance_group { count: 2 kind: KIND_GPU }\n"
                               "instance_group { count: 1 kind: KIND_CPU }");
  ASSERT_TRUE(model.ok()) << model.status();
  AddWarmup(*model, "largest", 4, 2, inference::TYPE_FP32).set_random_data(true);
  AddWarmup(*model, "single", 1, 0, inference::TYPE_UINT8).set_zero_data(true);
  Normalize(*model);
  EXPECT_EQ(model->config.model_warmup(1).count(), 1);  // 0 is read as 1, and said so
  auto served = ServedModel::Create(std::move(*model), &pool, &gpu.backend);
  ASSERT_TRUE(served.ok()) << served.status();
  ASSERT_EQ(gpu.runners.size(), 2u);
  for (const MarkingRunner* runner : gpu.runners) {
    EXPECT_EQ(runner->runs, (std::vector<int>{4, 4, 1}));
  }
  inference::ModelStatistics statistics;
  (*served)->statistics().Fill(statistics);
  EXPECT_EQ(statistics.inference_count(), 0u);
  EXPECT_EQ(statistics.execution_count(), 0u);
  const auto [gpu_answers, cpu_answers] = GpuAndCpuAnswers(**served, 6);
  EXPECT_EQ(gpu_answers + cpu_answers, 6);
}

TEST(ServedModelTest, AFailedWarmupFailsTheLoadNamingTheSample) {
  ThreadPool pool(1);
  auto model = LenetWithGroups("");
  ASSERT_TRUE(model.ok()) << model.status();
  AddWarmup(*model, "from_file", 2, 1, inference::TYPE_FP32).set_input_data_file("sample.bin");
  Normalize(*model);
  fs::create_directories(fs::path(model->directory) / "warmup");
  // One value short of a 28x28 FP32 sample.
  std::ofstream(fs::path(model->directory) / "warmup" / "sample.bin", std::ios::binary)
      << std::string(28 * 28 * 4 - 4, '\0');
  auto served = ServedModel::Create(*model, &pool);
  EXPECT_EQ(served.status().code(), absl::StatusCode::kInvalidArgument) << served.status();
  EXPECT_NE(served.status().message().find("model_warmup 'from_file': warmup/sample.bin has 3132 "
                                           "bytes; one sample of 784 FP32 values is 3136"),
            std::string::npos)
      << served.status();

  std::ofstream(fs::path(model->directory) / "warmup" / "sample.bin", std::ios::binary)
      << std::string(28 * 28 * 4, '\0');
  EXPECT_TRUE(ServedModel::Create(*model, &pool).ok());

  StandInGpu gpu;
  gpu.backend.create_runner =
      [](std::shared_ptr<const ExecutionPlan>,
         const inference::ModelConfig&) -> absl::StatusOr<std::unique_ptr<InstanceRunner>> {
    class FailingRunner : public InstanceRunner {
     public:
      absl::Status Run(const float*, int, Tensor&, ModelStats*) override {
        return absl::InternalError("unspecified launch failure");
      }
    };
    return std::make_unique<FailingRunner>();
  };
  auto on_gpu = ServedModel::Create(*model, &pool, &gpu.backend);
  EXPECT_EQ(on_gpu.status().code(), absl::StatusCode::kInternal) << on_gpu.status();
  EXPECT_NE(on_gpu.status().message().find(
                "instance 1 of 1 on the GPU: warmup 'from_file' run 1: unspecified launch failure"),
            std::string::npos)
      << on_gpu.status();
}

}  // namespace
}  // namespace convd
