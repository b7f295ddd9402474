#include "engine/executor.h"

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/thread_pool.h"

namespace convd {

Executor::Executor(std::shared_ptr<const ExecutionPlan> plan, ThreadPool* thread_pool)
    : plan_(std::move(plan)), thread_pool_(thread_pool) {}

absl::StatusOr<const Executor::BatchState*> Executor::PrepareBatch(int batch) {
  if (batch <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("batch size must be positive; got ", batch));
  }
  auto [it, inserted] = batches_.try_emplace(batch);
  BatchState& state = it->second;
  if (inserted) {
    state.memory = PlanMemory(plan_->graph, batch);
    // Sized for this executor's pool, which may differ from the planner's.
    const int threads = thread_pool_ != nullptr ? thread_pool_->num_threads() : 1;
    state.workspace_floats = plan_->WorkspaceBytes(batch, threads) / int64_t{sizeof(float)} + 1;
    state.stats = ComputeModelStats(*plan_, state.memory);
  }
  // A batch too large for the host is that request's (or that load's)
  // error, not the process's.
  try {
    if (arena_.size() < state.memory.arena_floats) {
      arena_ = AlignedBuffer();  // free first: the host may not hold both
      arena_ = AlignedBuffer(state.memory.arena_floats);
    }
    if (workspace_.size() < state.workspace_floats) {
      workspace_ = AlignedBuffer();
      workspace_ = AlignedBuffer(state.workspace_floats);
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot allocate ", (state.memory.arena_floats + state.workspace_floats) * sizeof(float),
        " bytes of activations and workspace on the host"));
  }
  return &state;
}

absl::Status Executor::Reserve(int max_batch) {
  // Every buffer of the memory plan scales with the batch, so the largest
  // batch's arena holds every smaller one's (memory_plan_test checks it).
  return PrepareBatch(max_batch).status();
}

absl::Status Executor::Run(const float* input, int batch, Tensor& output,
                           ModelStats* stats) {
  absl::StatusOr<const BatchState*> prepared = PrepareBatch(batch);
  if (!prepared.ok()) return prepared.status();
  if (input == nullptr) return absl::InvalidArgumentError("input is null");
  const BatchState& state = **prepared;
  const Graph& graph = plan_->graph;
  const MemoryPlan& memory = state.memory;
  if (stats != nullptr) *stats = state.stats;

  auto buffer = [&](int layer) -> float* {
    const int64_t offset = memory.offsets[layer];
    return offset == MemoryPlan::kExternal ? const_cast<float*>(input)
                                           : arena_.data() + offset;
  };
  const ExecContext context{thread_pool_};
  // The layers' loops come back to back: the pool's workers wait for the
  // next one polling, not asleep.
  const ThreadPool::Burst burst(thread_pool_);
  for (size_t i = 1; i < graph.layers.size(); ++i) {
    const Layer& layer = graph.layers[i];
    const auto start = std::chrono::steady_clock::now();
    float* out = buffer(static_cast<int>(i));
    const float* in = buffer(layer.inputs[0]);
    const TensorShape in_shape = graph.layers[layer.inputs[0]].output.WithBatch(batch);
    const int64_t count = layer.output.per_sample() * batch;
    Epilogue epilogue;
    epilogue.bias = layer.bias.empty() ? nullptr : layer.bias.data();
    epilogue.residual = layer.residual_input >= 0 ? buffer(layer.residual_input) : nullptr;
    epilogue.activation = layer.fused_activation;
    switch (layer.kind) {
      case LayerKind::kConvolution: {
        ConvArgs args;
        args.params = ConvParamsFor(graph, layer, batch);
        args.input = in;
        args.weights = &plan_->layers[i].packed;
        args.epilogue = epilogue;
        args.output = out;
        args.workspace = workspace_.data();
        if (absl::Status status = plan_->layers[i].algorithm->Run(args, context);
            !status.ok()) {
          return absl::Status(status.code(),
                              absl::StrCat("layer '", layer.name, "': ", status.message()));
        }
        break;
      }
      case LayerKind::kFullyConnected:
        cpu::FullyConnected(FullyConnectedParamsFor(graph, layer, batch), in,
                            plan_->FullyConnectedWeightsOf(i), epilogue, out, workspace_.data(),
                            thread_pool_);
        break;
      case LayerKind::kPooling:
        cpu::Pooling(PoolParamsFor(graph, layer, batch), in, out, thread_pool_);
        break;
      case LayerKind::kLrn: {
        LrnParams p{batch, in_shape.c, in_shape.h, in_shape.w, layer.lrn.size,
                    layer.lrn.alpha, layer.lrn.beta, layer.lrn.k};
        cpu::Lrn(p, in, out, thread_pool_);
        break;
      }
      case LayerKind::kActivation:
        cpu::Activate(in, count, layer.activation, out, thread_pool_);
        break;
      case LayerKind::kDropout:
        std::memcpy(out, in, count * sizeof(float));
        break;
      case LayerKind::kFlatten:
        break;  // a view: same buffer as the input
      case LayerKind::kSoftmax:
        cpu::Softmax(in, batch, in_shape.c, in_shape.h * in_shape.w, layer.log_softmax, out,
                     thread_pool_);
        break;
      case LayerKind::kAdd: {
        std::vector<const float*> inputs;
        for (int input_layer : layer.inputs) inputs.push_back(buffer(input_layer));
        cpu::Add(inputs, count, layer.fused_activation, out, thread_pool_);
        break;
      }
      case LayerKind::kConcat: {
        std::vector<const float*> inputs;
        std::vector<int> channels;
        for (int input_layer : layer.inputs) {
          inputs.push_back(buffer(input_layer));
          channels.push_back(graph.layers[input_layer].output.c);
        }
        cpu::Concat(inputs, channels, batch, int64_t{layer.output.h} * layer.output.w, out);
        break;
      }
      case LayerKind::kBatchNorm: {
        // Unfolded (no convolution before it): scale and shift, prepared at load.
        const float* scale = plan_->layers[i].packed.data.data();
        cpu::ScaleShift(in, batch, layer.output.c, int64_t{layer.output.h} * layer.output.w,
                        scale, scale + layer.output.c, out, thread_pool_);
        break;
      }
      case LayerKind::kInput:
        return absl::InternalError(absl::StrCat("layer '", layer.name, "' is a second input"));
    }
    if (stats != nullptr) {
      stats->layers[i - 1].time_ms = std::chrono::duration<double, std::milli>(
                                         std::chrono::steady_clock::now() - start).count();
      stats->total_time_ms += stats->layers[i - 1].time_ms;
    }
  }
  const int last = static_cast<int>(graph.layers.size()) - 1;
  output.Resize(graph.output().output.WithBatch(batch));
  std::memcpy(output.data(), buffer(last), output.bytes());
  return absl::OkStatus();
}

}  // namespace convd
