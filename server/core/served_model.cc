#include "server/core/served_model.h"

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "engine/executor.h"
#include "engine/stats.h"
#include "engine/status_macros.h"
#include "server/core/warmup.h"

namespace convd {
namespace {

// A model instance on the CPU backend: one executor (arena and workspace)
// per instance, all sharing the process's compute thread pool.
class CpuInstanceRunner : public InstanceRunner {
 public:
  CpuInstanceRunner(std::shared_ptr<const ExecutionPlan> plan, ThreadPool* thread_pool)
      : executor_(std::move(plan), thread_pool) {}

  absl::Status Run(const float* input, int batch, Tensor& output, ModelStats* stats) override {
    return executor_.Run(input, batch, output, stats);
  }
  absl::Status Reserve(int max_batch) override { return executor_.Reserve(max_batch); }
  MemoryUse memory() const override { return MemoryUse{.host_bytes = executor_.held_bytes()}; }

 private:
  Executor executor_;
};

BatchingPolicy PolicyFor(const inference::ModelConfig& config) {
  BatchingPolicy policy;
  policy.max_batch_size = std::max(1, config.max_batch_size());
  policy.dynamic = config.has_dynamic_batching();
  if (policy.dynamic) {
    const inference::ModelDynamicBatching& batching = config.dynamic_batching();
    policy.preferred_batch_sizes.assign(batching.preferred_batch_size().begin(),
                                        batching.preferred_batch_size().end());
    policy.max_queue_delay = std::chrono::microseconds(batching.max_queue_delay_microseconds());
    policy.strict_queue_delay = batching.strict_queue_delay();
  }
  return policy;
}

bool HasInstancesOfKind(const inference::ModelConfig& config,
                        inference::ModelInstanceGroup::Kind kind) {
  for (const inference::ModelInstanceGroup& group : config.instance_group()) {
    if (group.kind() == kind) return true;
  }
  return false;
}

}  // namespace

absl::Status ResolveInstanceKinds(inference::ModelConfig& config, bool on_gpu_server) {
  for (inference::ModelInstanceGroup& group : *config.mutable_instance_group()) {
    if (group.kind() == inference::ModelInstanceGroup::KIND_GPU && !on_gpu_server) {
      return absl::UnimplementedError(
          absl::StrCat("model '", config.name(),
                       "': instance_group kind KIND_GPU, but this server "
                       "runs on the CPU; use KIND_CPU or KIND_AUTO"));
    }
    if (group.kind() == inference::ModelInstanceGroup::KIND_AUTO ||
        group.kind() == inference::ModelInstanceGroup::KIND_MODEL) {
      group.set_kind(on_gpu_server ? inference::ModelInstanceGroup::KIND_GPU
                                   : inference::ModelInstanceGroup::KIND_CPU);
    }
  }
  return absl::OkStatus();
}

bool HasCpuInstances(const inference::ModelConfig& config) {
  return HasInstancesOfKind(config, inference::ModelInstanceGroup::KIND_CPU);
}

bool HasGpuInstances(const inference::ModelConfig& config) {
  return HasInstancesOfKind(config, inference::ModelInstanceGroup::KIND_GPU);
}

ServedModel::ServedModel(LoadedModel model)
    : model_(std::move(model)), load_id_([] {
        static std::atomic<uint64_t> next{1};
        return next.fetch_add(1);
      }()) {}

absl::StatusOr<std::unique_ptr<ServedModel>> ServedModel::Create(LoadedModel model,
                                                                 ThreadPool* thread_pool,
                                                                 const GpuBackend* gpu) {
  // The served config names the kind that runs.
  RETURN_IF_ERROR(ResolveInstanceKinds(model.config, gpu != nullptr));
  std::unique_ptr<ServedModel> served(new ServedModel(std::move(model)));
  const inference::ModelConfig& config = served->model_.config;
  const Graph& graph = served->model_.plan->graph;
  served->input_row_elements_ = graph.input().output.WithBatch(1).elements();
  served->output_row_elements_ = graph.output().output.WithBatch(1).elements();

  const int max_batch = std::max(1, config.max_batch_size());
  ASSIGN_OR_RETURN(const std::vector<WarmupSample> warmup,
                   PrepareWarmup(config, served->model_.directory, served->input_row_elements_));
  served->memory_.host_bytes = served->model_.plan->HostWeightBytes();

  SchedulerOptions options;
  options.batching = PolicyFor(config);
  options.input_row_elements = served->input_row_elements_;
  options.output_row_elements = served->output_row_elements_;
  if (config.has_dynamic_batching()) {
    // uint32 in the config; past int's range is as good as no limit.
    auto max_queue_size = [](const inference::ModelQueuePolicy& policy) {
      return static_cast<int>(std::min<uint32_t>(policy.max_queue_size(), INT32_MAX));
    };
    const inference::ModelDynamicBatching& batching = config.dynamic_batching();
    options.max_queue_size = max_queue_size(batching.default_queue_policy());
    options.preserve_ordering = batching.preserve_ordering();
    for (const auto& [level, policy] : batching.priority_queue_policy()) {
      options.level_max_queue_size[level] = max_queue_size(policy);
    }
  }
  options.observer = &served->statistics_;
  options.inline_run_limit = std::chrono::microseconds(config.inline_run_limit_microseconds());
  std::vector<std::unique_ptr<InstanceRunner>> runners;
  for (const inference::ModelInstanceGroup& group : config.instance_group()) {
    const bool on_gpu = group.kind() == inference::ModelInstanceGroup::KIND_GPU;
    for (int i = 0; i < group.count(); ++i) {
      // Out of memory or a failed upload: the model is not ready, with the
      // reason; the server keeps serving the others.
      auto failed = [&](const absl::Status& status) {
        return absl::Status(
            status.code(),
            absl::StrCat("model '", config.name(), "' instance ", i + 1, " of ", group.count(),
                         " on the ", on_gpu ? "GPU" : "CPU", ": ", status.message()));
      };
      std::unique_ptr<InstanceRunner> runner;
      if (on_gpu) {
        auto created = gpu->create_runner(served->model_.plan, config);
        if (!created.ok()) return failed(created.status());
        runner = std::move(*created);
      } else {
        runner = std::make_unique<CpuInstanceRunner>(served->model_.plan, thread_pool);
      }
      if (absl::Status status = runner->Reserve(max_batch); !status.ok()) return failed(status);
      if (absl::Status status = RunWarmup(warmup, *runner); !status.ok()) return failed(status);
      served->memory_ += runner->memory();
      runners.push_back(std::move(runner));
    }
  }
  served->scheduler_ = std::make_unique<Scheduler>(std::move(options), std::move(runners));
  return served;
}

bool ServedModel::on_gpu() const { return HasGpuInstances(config()); }

std::vector<std::pair<std::string, int64_t>> ServedModel::MemoryByType() const {
  std::vector<std::pair<std::string, int64_t>> types = {{"CPU", memory_.host_bytes}};
  if (memory_.pinned_bytes > 0) types.emplace_back("CPU_PINNED", memory_.pinned_bytes);
  if (memory_.device_bytes > 0) types.emplace_back("GPU", memory_.device_bytes);
  return types;
}

}  // namespace convd
