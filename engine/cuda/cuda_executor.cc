#include "engine/cuda/cuda_executor.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/cuda/cuda_executor_state.h"
#include "engine/cuda/cuda_layers.h"
#include "engine/status_macros.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device.h"

namespace convd {

using cuda::DeviceBuffer;
using cuda::DeviceLayer;
using cuda::GpuConv;

CudaExecutorOptions ExecutorOptionsFor(const ExecutionPlan& plan,
                                       const inference::ModelConfig& config,
                                       AutotuneCache* autotune_cache) {
  CudaExecutorOptions options;
  options.policy = plan.policy;
  options.autotune_batch = std::max(1, config.max_batch_size());
  options.autotune_cache = autotune_cache;
  options.math = ConfiguredGemmMath(config.algorithm_policy());
  const auto& cuda = config.optimization().cuda();
  options.cuda_graphs = !cuda.has_graphs() || cuda.graphs();
  return options;
}

CudaExecutor::CudaExecutor(std::shared_ptr<const ExecutionPlan> plan,
                           const CudaExecutorOptions& options)
    : plan_(std::move(plan)), options_(options), state_(std::make_unique<State>()) {}

CudaExecutor::~CudaExecutor() = default;

absl::StatusOr<std::unique_ptr<CudaExecutor>> CudaExecutor::Create(
    std::shared_ptr<const ExecutionPlan> plan, const CudaExecutorOptions& options) {
  if (!cuda::DeviceAvailable()) return absl::UnavailableError(cuda::DeviceDescription());
  std::unique_ptr<CudaExecutor> executor(new CudaExecutor(std::move(plan), options));
  if (absl::Status status = executor->Prepare(); !status.ok()) return status;
  return executor;
}

absl::Status CudaExecutor::Prepare() {
  const Graph& graph = plan_->graph;
  State& state = *state_;
  CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&state.stream, cudaStreamNonBlocking));
  const size_t count = graph.layers.size();
  state.layers.resize(count);
  state.on_cpu.assign(count, false);
  state.why.assign(count, "");
  state.forced.assign(count, false);
  algorithm_names_.assign(count, "");
  state.events.resize(2 * count);
  for (cudaEvent_t& event : state.events) CUDA_RETURN_IF_ERROR(cudaEventCreate(&event));

  for (size_t i = 1; i < count; ++i) {
    const Layer& layer = graph.layers[i];
    GpuConv conv = GpuConv::kNone;
    bool by_heuristic = false;
    if (options_.cpu_layers.contains(layer.name)) {
      if (layer.kind != LayerKind::kConvolution) {
        return absl::InvalidArgumentError(absl::StrCat(
            "layer '", layer.name, "': only convolutions can be moved to the CPU"));
      }
      state.on_cpu[i] = true;
      state.why[i] = "on the CPU as asked (cpu_layers)";
      algorithm_names_[i] = absl::StrCat("cpu:", std::string(plan_->layers[i].algorithm->name()));
      continue;
    }
    const cuda::DeviceConvShape batch1 = layer.kind == LayerKind::kConvolution
                                             ? cuda::ToDeviceConv(ConvParamsFor(graph, layer, 1))
                                             : cuda::DeviceConvShape{};
    if (layer.kind == LayerKind::kConvolution) {
      ASSIGN_OR_RETURN(cuda::ConvChoice choice,
                       cuda::ChooseConv(batch1, options_.policy, layer.name));
      conv = choice.algorithm;
      state.why[i] = std::move(choice.why);
      state.forced[i] = choice.forced;
      by_heuristic = !choice.forced;
    }
    auto device = cuda::UploadLayer(*plan_, static_cast<int>(i), conv);
    absl::Status uploaded = device.status();
    if (device.ok()) {
      device->by_heuristic = by_heuristic;
      uploaded = cuda::UploadLargerBatchWinograd(*plan_, static_cast<int>(i), batch1, *device);
    }
    if (!uploaded.ok()) {
      return absl::Status(uploaded.code(),
                          absl::StrCat("layer '", layer.name, "': ", uploaded.message()));
    }
    if (cuda::PicksPerBatch(*device)) {
      absl::StrAppend(&state.why[i], " (at batch 1; larger batches as the heuristic picks)");
    }
    state.layers[i] = std::move(*device);
    algorithm_names_[i] = conv != GpuConv::kNone ? cuda::GpuConvName(conv)
                                                 : absl::StrCat("cuda_", LayerKindName(layer.kind));
  }
  if (options_.policy.mode == AlgorithmPolicy::Mode::kAutotune) {
    if (absl::Status s = AutotuneConvolutions(); !s.ok()) return s;
  }
  // A CPU layer waits on the host mid-pass, which a graph cannot hold.
  graphs_possible_ = options_.cuda_graphs && std::none_of(state.on_cpu.begin(), state.on_cpu.end(),
                                                          [](bool b) { return b; });
  return absl::OkStatus();
}

absl::Status CudaExecutor::PlanBatch(int batch) {
  if (batch <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("batch size must be positive; got ", batch));
  }
  const Graph& graph = plan_->graph;
  State& state = *state_;
  auto [batch_it, new_batch] = state.batches.try_emplace(batch);
  State::BatchPlan& batch_plan = batch_it->second;
  if (new_batch) {
    batch_plan.memory = PlanMemory(graph, batch);
    batch_plan.stats = ComputeModelStats(*plan_, batch_plan.memory);
    // Workspace: the largest any convolution wants for the whole batch, up
    // to the limit (the kernels chunk the batch to fit), at least one image;
    // and what a fully connected layer's SGEMM splits K into, if it does.
    // The stats report each GPU layer's device workspace in place of the
    // host plan's (CPU layers keep theirs).
    const int64_t limit = options_.workspace_limit_bytes / int64_t{sizeof(float)};
    ModelStats& stats = batch_plan.stats;
    for (size_t i = 1; i < graph.layers.size(); ++i) {
      const Layer& layer = graph.layers[i];
      int64_t floats = 0;
      if (layer.kind == LayerKind::kFullyConnected) {
        floats = std::min(limit, cuda::FullyConnectedWorkspaceFloats(graph, layer, batch));
      } else if (layer.kind == LayerKind::kConvolution && !state.on_cpu[i]) {
        const auto shape = cuda::ToDeviceConv(ConvParamsFor(graph, layer, batch));
        const GpuConv conv = cuda::ConvForBatch(state.layers[i], shape);
        floats = std::max(cuda::ConvWorkspaceFloats(conv, shape, 1),
                          std::min(limit, cuda::ConvWorkspaceFloats(conv, shape, batch)));
      } else {
        continue;
      }
      batch_plan.workspace_floats = std::max(batch_plan.workspace_floats, floats);
      stats.layers[i - 1].workspace_bytes = floats * int64_t{sizeof(float)};
    }
    const int64_t old_workspace_bytes = stats.workspace_bytes;
    stats.workspace_bytes = 0;
    for (const LayerStats& layer : stats.layers) {
      stats.workspace_bytes = std::max(stats.workspace_bytes, layer.workspace_bytes);
    }
    stats.peak_bytes += stats.workspace_bytes - old_workspace_bytes;
  }
  const MemoryPlan& memory = batch_plan.memory;
  const int64_t input_floats = graph.input().output.per_sample() * batch;
  const TensorShape output_shape = graph.output().output.WithBatch(batch);
  auto grow = [](DeviceBuffer& buffer, int64_t floats) -> absl::Status {
    if (buffer.floats() >= floats) return absl::OkStatus();
    buffer = DeviceBuffer();  // free first: the device may not hold both
    auto grown = DeviceBuffer::Allocate(floats);
    if (!grown.ok()) return grown.status();
    buffer = std::move(*grown);
    return absl::OkStatus();
  };
  if (absl::Status s = grow(state.arena, std::max<int64_t>(1, memory.arena_floats)); !s.ok()) {
    return s;
  }
  if (absl::Status s = grow(state.workspace, batch_plan.workspace_floats); !s.ok()) return s;
  if (absl::Status s = grow(state.input, input_floats); !s.ok()) return s;
  if (absl::Status s = state.staging_in.Reserve(input_floats); !s.ok()) return s;
  return state.staging_out.Reserve(output_shape.elements());
}

absl::StatusOr<float*> CudaExecutor::InputStaging(int batch) {
  if (absl::Status s = PlanBatch(batch); !s.ok()) return s;
  return state_->staging_in.data();
}

absl::Status CudaExecutor::Reserve(int max_batch) {
  // As on the CPU (Executor::Reserve): the largest batch's buffers hold
  // every smaller batch's.
  return PlanBatch(max_batch);
}

CudaMemoryUse CudaExecutor::memory() const {
  const State& state = *state_;
  int64_t device_floats = state.arena.floats() + state.workspace.floats() + state.input.floats();
  for (const DeviceLayer& layer : state.layers) {
    device_floats += layer.weights.floats() + layer.larger_batch_weights.floats() +
                     layer.bias.floats() + layer.scale_shift.floats();
  }
  return CudaMemoryUse{.device_bytes = device_floats * int64_t{sizeof(float)},
                       .pinned_bytes = (state.staging_in.floats() + state.staging_out.floats()) *
                                       int64_t{sizeof(float)}};
}

absl::Status CudaExecutor::Run(const float* input, int batch, Tensor& output, ModelStats* stats) {
  if (input == nullptr) return absl::InvalidArgumentError("input is null");
  if (absl::Status s = PlanBatch(batch); !s.ok()) return s;
  const Graph& graph = plan_->graph;
  State& state = *state_;
  State::BatchPlan& batch_plan = state.batches.at(batch);
  const MemoryPlan& memory = batch_plan.memory;
  const int64_t input_floats = graph.input().output.per_sample() * batch;
  const TensorShape output_shape = graph.output().output.WithBatch(batch);
  if (stats != nullptr) *stats = batch_plan.stats;

  if (input != state.staging_in.data()) {
    std::memcpy(state.staging_in.data(), input, input_floats * sizeof(float));
  }
  // Per-layer times need events between the layers, so runs with stats
  // (and the first run of a batch size, which warms every kernel up) go
  // eagerly; the others replay the captured graph.
  bool replayed = false;
  if (stats == nullptr && graphs_possible_ && batch_plan.eager_runs > 0 &&
      batch_plan.graph_failure.empty()) {
    if (batch_plan.graph == nullptr || batch_plan.graph_addresses != state.Addresses()) {
      if (absl::Status s = CaptureGraph(batch); !s.ok()) {
        // Not fatal: this batch size keeps running eagerly, visibly.
        batch_plan.graph_failure = std::string(s.message());
      }
    }
    if (batch_plan.graph != nullptr) {
      CUDA_RETURN_IF_ERROR(cudaGraphLaunch(batch_plan.graph, state.stream));
      replayed = true;
    }
  }
  if (!replayed) {
    if (absl::Status s = EnqueueForward(batch, memory, stats != nullptr); !s.ok()) {
      cudaStreamSynchronize(state.stream);
      return s;
    }
    ++batch_plan.eager_runs;
  }
  CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(state.stream));
  output.Resize(output_shape);
  std::memcpy(output.data(), state.staging_out.data(), output.bytes());
  if (stats != nullptr) {
    stats->total_time_ms = 0;
    for (size_t i = 1; i < graph.layers.size(); ++i) {
      float ms = 0;
      CUDA_RETURN_IF_ERROR(
          cudaEventElapsedTime(&ms, state.events[2 * i], state.events[2 * i + 1]));
      stats->layers[i - 1].time_ms = ms;
      stats->layers[i - 1].algorithm = AlgorithmAt(static_cast<int>(i), batch);
      stats->layers[i - 1].why = state.why[i];
      stats->total_time_ms += ms;
    }
  }
  return absl::OkStatus();
}

std::string CudaExecutor::AlgorithmAt(int layer, int batch) const {
  const cuda::DeviceLayer& device = state_->layers[layer];
  if (state_->on_cpu[layer] || device.conv == GpuConv::kNone) return algorithm_names_[layer];
  const Graph& graph = plan_->graph;
  return cuda::GpuConvName(cuda::ConvForBatch(
      device, cuda::ToDeviceConv(ConvParamsFor(graph, graph.layers[layer], batch))));
}

absl::Status CudaExecutor::CaptureGraph(int batch) {
  State& state = *state_;
  State::BatchPlan& batch_plan = state.batches.at(batch);
  if (batch_plan.graph != nullptr) {
    cudaGraphExecDestroy(batch_plan.graph);
    batch_plan.graph = nullptr;
  }
  CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(state.stream, cudaStreamCaptureModeThreadLocal));
  const absl::Status enqueued = EnqueueForward(batch, batch_plan.memory, /*record_events=*/false);
  cudaGraph_t captured = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(state.stream, &captured);
  cudaGetLastError();  // a failed capture leaves its error behind
  if (!enqueued.ok() || ended != cudaSuccess) {
    if (captured != nullptr) cudaGraphDestroy(captured);
    return enqueued.ok() ? cuda::CudaStatus(ended, "cudaStreamEndCapture", __FILE__, __LINE__)
                         : enqueued;
  }
  cudaGraphExec_t instance = nullptr;
  const cudaError_t instantiated = cudaGraphInstantiate(&instance, captured, 0);
  cudaGraphDestroy(captured);
  CUDA_RETURN_IF_ERROR(instantiated);
  batch_plan.graph = instance;
  batch_plan.graph_addresses = state.Addresses();
  return absl::OkStatus();
}

absl::Status CudaExecutor::EnqueueForward(int batch, const MemoryPlan& memory,
                                          bool record_events) {
  const Graph& graph = plan_->graph;
  State& state = *state_;
  const int64_t input_floats = graph.input().output.per_sample() * batch;
  const int64_t output_floats = graph.output().output.WithBatch(batch).elements();
  auto buffer = [&](int layer) -> float* {
    const int64_t offset = memory.offsets[layer];
    return offset == MemoryPlan::kExternal ? state.input.data() : state.arena.data() + offset;
  };
  CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(state.input.data(), state.staging_in.data(),
                                       input_floats * sizeof(float), cudaMemcpyHostToDevice,
                                       state.stream));
  for (size_t i = 1; i < graph.layers.size(); ++i) {
    const Layer& layer = graph.layers[i];
    if (record_events) CUDA_RETURN_IF_ERROR(cudaEventRecord(state.events[2 * i], state.stream));
    cuda::LayerBuffers buffers;
    for (int in : layer.inputs) buffers.inputs.push_back(buffer(in));
    buffers.residual = layer.residual_input >= 0 ? buffer(layer.residual_input) : nullptr;
    buffers.output = buffer(static_cast<int>(i));
    buffers.workspace = state.workspace.data();
    buffers.workspace_floats = state.workspace.floats();
    absl::Status status;
    if (state.on_cpu[i]) {
      status = RunLayerOnCpu(static_cast<int>(i), batch, buffers);
    } else {
      status = cuda::LaunchLayer(graph, static_cast<int>(i), state.layers[i], batch, buffers,
                                 state.stream, options_.math);
    }
    if (!status.ok()) return status;
    if (record_events) {
      CUDA_RETURN_IF_ERROR(cudaEventRecord(state.events[2 * i + 1], state.stream));
    }
  }
  const int last = static_cast<int>(graph.layers.size()) - 1;
  CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(state.staging_out.data(), buffer(last),
                                       output_floats * sizeof(float), cudaMemcpyDeviceToHost,
                                       state.stream));
  return absl::OkStatus();
}

// The plan's CPU algorithm for convolution `index`, on host copies of its
// operands (the host waits for them), its output copied back.
absl::Status CudaExecutor::RunLayerOnCpu(int index, int batch,
                                         const cuda::LayerBuffers& buffers) {
  const Graph& graph = plan_->graph;
  State& state = *state_;
  const Layer& layer = graph.layers[index];
  ConvArgs args;
  args.params = ConvParamsFor(graph, layer, batch);
  const ConvAlgorithm* algorithm = plan_->layers[index].algorithm;
  state.host_in.resize(args.params.input_elements());
  state.host_out.resize(args.params.output_elements());
  state.host_residual.resize(buffers.residual ? args.params.output_elements() : 0);
  state.host_workspace.resize(algorithm->WorkspaceBytes(args.params, 1) / sizeof(float) + 1);
  CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(state.host_in.data(), buffers.inputs[0],
                                       state.host_in.size() * sizeof(float),
                                       cudaMemcpyDeviceToHost, state.stream));
  if (buffers.residual != nullptr) {
    CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(state.host_residual.data(), buffers.residual,
                                         state.host_residual.size() * sizeof(float),
                                         cudaMemcpyDeviceToHost, state.stream));
  }
  CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(state.stream));
  args.input = state.host_in.data();
  args.weights = &plan_->layers[index].packed;
  args.epilogue.bias = layer.bias.empty() ? nullptr : layer.bias.data();
  args.epilogue.residual = buffers.residual ? state.host_residual.data() : nullptr;
  args.epilogue.activation = layer.fused_activation;
  args.output = state.host_out.data();
  args.workspace = state.host_workspace.data();
  // Single-threaded: the workspace above is sized for one thread.
  if (absl::Status status = algorithm->Run(args, ExecContext{nullptr}); !status.ok()) {
    return status;
  }
  CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(buffers.output, state.host_out.data(),
                                       state.host_out.size() * sizeof(float),
                                       cudaMemcpyHostToDevice, state.stream));
  return absl::OkStatus();
}

std::string CudaExecutor::PlanString() const {
  const Graph& graph = plan_->graph;
  std::string out = absl::StrCat("gpu: ", cuda::DeviceDescription(), "\n");
  absl::StrAppend(&out, "matrix products: ",
                  cuda::GemmMathLabel(options_.math),
                  options_.math == cuda::GemmMath::kFp32 ? "" : " tensor cores",
                  "\n");
  absl::StrAppend(&out, "cuda graphs: ",
                  graphs_possible_ ? "one per batch size, from its second run without stats"
                  : options_.cuda_graphs ? "off (a layer runs on the CPU)"
                                         : "off (cuda_graphs = false)",
                  "\n");
  for (const auto& [batch, batch_plan] : state_->batches) {
    if (!batch_plan.graph_failure.empty()) {
      absl::StrAppend(&out, "  batch ", batch, " runs eagerly: ", batch_plan.graph_failure, "\n");
    }
  }
  for (size_t i = 1; i < graph.layers.size(); ++i) {
    const Layer& layer = graph.layers[i];
    absl::StrAppendFormat(&out, "%-22s %-16s %-22s %s\n", layer.name, LayerKindName(layer.kind),
                          algorithm_names_[i], state_->why[i]);
  }
  return out;
}

}  // namespace convd
