#include "engine/planner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/graph_passes.h"
#include "engine/status_macros.h"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/thread_pool.h"

namespace convd {
namespace {

struct Choice {
  const ConvAlgorithm* algorithm;
  std::string why;
};

// The default rule, from bench/RESULTS.md (CPU backend, 2 cores; conv_bench
// of 2026-12-05). Winograd is the fastest algorithm on 3x3, stride-1
// layers wherever the input has more than a few channels, at batch 1 and
// at batch 32: F(4x4,3x3) where the output plane is 8x8 or more (AlexNet's
// conv3-5, VGG-16 from conv1_2, ResNet's 56x56 to 14x14 layers: 1.1-2.6x
// im2col), F(2x2,3x3) on 7x7 planes, which F(4x4) pads to 8x8 in 4 tiles
// (ResNet's layer4: 1.9x im2col at batch 1, where F(4x4) is 0.8x). Smaller
// planes were not measured and keep im2col; with 3 input channels (VGG's
// conv1_1) the transforms outweigh the product. On 5x5 stride-1 layers
// F(4x4,5x5) is ahead from 32 input channels per group (conv_bench of
// 2026-12-06): AlexNet's conv2 (64: 1.7-2.0x F(2x2,5x5), 3-5x direct, at
// batch 1 to 32), the original AlexNet's conv2 (48 per group: 1.65-1.9x
// F(2x2,5x5)), GoogLeNet's 3b (32: 1.7-3.2x direct) and 5b (48, 7x7: level
// with F(2x2,5x5) at batch 1, 1.2-2.1x at 8 and 32). At 16 channels
// (GoogLeNet's 4a) direct leads at batch 1 and Winograd only from batch
// 8. Direct is the fastest on the other filters of 5x5 and larger:
// AlexNet's 11x11 stride-4 conv1 (1.2-1.3x im2col; since 2026-12-07 the
// space-to-depth rule below takes it), ResNet's 7x7 stride-2
// stem (1.1-1.2x), GoogLeNet's 4a, LeNet's conv2 (6 channels: 2-4x
// Winograd; conv1 level). Direct's row loops (2026-12-06, night) also lead on
// stride-1 layers of few taps an output, where im2col's GEMM is at its
// thinnest: VGG's 3-channel conv1_1 (27 taps) 1.6-2.9x im2col at batch
// 1 to 32. On other 3x3 and 1x1 filters direct trails im2col (ResNet's
// strided 3x3 and 1x1 layers). Everywhere else im2col + GEMM is the
// fastest.
// The plan is made once, before the serving batch is known; autotune
// (which times candidates at the serving batch) refines it. A faster
// kernel changes this rule together with the measurement that justifies
// it.
constexpr int kWinogradMinChannels = 16;
constexpr int kWinogradF43MinPlaneSide = 8;
constexpr int kWinogradF23MinPlaneSide = 7;
constexpr int kWinograd5x5MinChannels = 32;
// Space-to-depth then F(4x4,3x3) (conv_bench of 2026-12-07, Zen 4): both
// AlexNets' 11x11 stride-4 conv1 (3x3 over 48 channels, 121 of 144 taps
// the filter's, the rest zeros) 1.0-1.46x direct at batch 1, 8 and 32,
// median 1.29x; a 6x6 stride-2 layer over 16 channels (64 after, no
// zeros) 1.4x at batch 32, level at 1. Where a quarter or more of the
// taps are zeros it loses: 5x5 stride 2 (25 of 36) over 3 or 4 channels
// 0.46-1.03x direct, median 0.68x.
constexpr int kSpaceToDepthMinChannels = 48;
constexpr int kSpaceToDepthMinTapPercent = 80;
constexpr int kDirectMinFilterTaps = 25;  // 5x5
constexpr int kDirectRowsMaxTaps = 27;    // C/g * R * S: 3 channels of 3x3

Choice Heuristic(const ConvParams& p) {
  const int side = std::min(p.p, p.q);
  if (cpu::WinogradF43Conv().CanImplement(p).ok() && p.c_per_group() >= kWinogradMinChannels &&
      side >= kWinogradF23MinPlaneSide) {
    const bool f43 = side >= kWinogradF43MinPlaneSide;
    return {f43 ? &cpu::WinogradF43Conv() : &cpu::WinogradF23Conv(),
            absl::StrFormat("heuristic: Winograd %s is the fastest CPU algorithm on 3x3 stride-1 "
                            "layers of %d+ input channels and %s outputs (C/g=%d, output %dx%d)",
                            f43 ? "F(4x4,3x3)" : "F(2x2,3x3)", kWinogradMinChannels,
                            f43 ? "8x8+" : "7x7", p.c_per_group(), p.p, p.q)};
  }
  if (cpu::WinogradF45Conv().CanImplement(p).ok() && p.c_per_group() >= kWinograd5x5MinChannels) {
    return {&cpu::WinogradF45Conv(),
            absl::StrFormat("heuristic: Winograd F(4x4,5x5) is the fastest CPU algorithm on 5x5 "
                            "stride-1 layers of %d+ input channels (C/g=%d, output %dx%d)",
                            kWinograd5x5MinChannels, p.c_per_group(), p.p, p.q)};
  }
  const int s2d_channels = p.c * p.stride_h * p.stride_w;
  const int s2d_taps = 9 * p.stride_h * p.stride_w;  // 3x3 a channel, where it applies
  if (cpu::WinogradF43SpaceToDepthConv().CanImplement(p).ok() &&
      s2d_channels >= kSpaceToDepthMinChannels &&
      p.r * p.s * 100 >= kSpaceToDepthMinTapPercent * s2d_taps &&
      side >= kWinogradF43MinPlaneSide) {
    return {&cpu::WinogradF43SpaceToDepthConv(),
            absl::StrFormat("heuristic: space-to-depth then Winograd F(4x4,3x3) is the fastest CPU "
                            "algorithm on strided layers whose filters become 3x3 over %d+ "
                            "channels, %d%%+ of the taps theirs (%dx%d stride %d becomes 3x3 over "
                            "%d channels, %d of %d taps; output %dx%d)",
                            kSpaceToDepthMinChannels, kSpaceToDepthMinTapPercent, p.r, p.s,
                            p.stride_h, s2d_channels, p.r * p.s, s2d_taps, p.p, p.q)};
  }
  if (p.r * p.s >= kDirectMinFilterTaps) {
    return {&cpu::DirectConv(),
            absl::StrFormat("heuristic: direct is the fastest CPU algorithm on filters of 5x5 and "
                            "larger that Winograd does not take (%dx%d stride %d, C/g=%d)",
                            p.r, p.s, p.stride_h, p.c_per_group())};
  }
  const int64_t taps = int64_t{p.c_per_group()} * p.r * p.s;
  // (Not measured on 1x1 layers, whose im2col is a plain GEMM: they keep it.)
  if (p.r * p.s > 1 && taps <= kDirectRowsMaxTaps &&
      cpu::DirectConvLoops(p) == cpu::DirectLoops::kRows) {
    return {&cpu::DirectConv(),
            absl::StrFormat("heuristic: direct's row loops are the fastest CPU algorithm on "
                            "stride-1 layers of %d or fewer taps an output (C/g*R*S=%d, output "
                            "%dx%d)",
                            kDirectRowsMaxTaps, taps, p.p, p.q)};
  }
  return {&cpu::Im2colGemmConv(),
          absl::StrFormat("heuristic: im2col + GEMM is the fastest CPU algorithm on "
                          "layers Winograd does not suit (C/g*R*S=%d, output %dx%d)",
                          taps, p.p, p.q)};
}

double TimeMilliseconds(const ConvAlgorithm& algorithm, const ConvArgs& args,
                        const ExecContext& context, int repeats) {
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i <= repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (!algorithm.Run(args, context).ok()) return best;
    const double ms = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start).count();
    if (i > 0) best = std::min(best, ms);  // the first run warms caches
  }
  return best;
}

using Clock = std::chrono::steady_clock;

absl::StatusOr<Choice> Autotune(const Layer& layer, const ConvParams& per_sample,
                                const PlanOptions& options, int threads,
                                Clock::time_point deadline) {
  if (Clock::now() >= deadline) {
    Choice fallback = Heuristic(per_sample);
    fallback.why =
        absl::StrCat(AutotuneBudgetSpent(options.policy.autotune_budget_ms), "; ", fallback.why);
    return fallback;
  }
  ConvParams params = per_sample;
  params.n = std::max(1, options.autotune_batch);
  AlignedBuffer input(params.input_elements());
  AlignedBuffer output(params.output_elements());
  AlignedBuffer residual(layer.residual_input >= 0 ? params.output_elements() : 0);
  for (int64_t i = 0; i < input.size(); ++i) input.data()[i] = static_cast<float>(i % 7) - 3.0f;
  for (int64_t i = 0; i < residual.size(); ++i) residual.data()[i] = 0.5f;
  std::vector<std::pair<double, const ConvAlgorithm*>> timings;
  bool out_of_time = false;
  for (const ConvAlgorithm* algorithm : CpuConvCandidates()) {
    if (!algorithm->CanImplement(params).ok()) continue;
    if (!timings.empty() && Clock::now() >= deadline) {
      out_of_time = true;
      break;
    }
    ASSIGN_OR_RETURN(PackedWeights packed,
                     algorithm->PrepareWeights(params, layer.weight.data()));
    AlignedBuffer workspace(algorithm->WorkspaceBytes(params, threads) / sizeof(float));
    ConvArgs args;
    args.params = params;
    args.input = input.data();
    args.weights = &packed;
    args.epilogue.bias = layer.bias.empty() ? nullptr : layer.bias.data();
    args.epilogue.residual = residual.size() ? residual.data() : nullptr;
    args.epilogue.activation = layer.fused_activation;
    args.output = output.data();
    args.workspace = workspace.data();
    timings.emplace_back(TimeMilliseconds(*algorithm, args, ExecContext{options.thread_pool},
                                          options.autotune_repeats),
                         algorithm);
  }
  std::sort(timings.begin(), timings.end());
  std::vector<std::string> parts;
  for (const auto& [ms, algorithm] : timings) {
    parts.push_back(absl::StrFormat("%s %.3f ms", algorithm->name(), ms));
  }
  return Choice{
      timings.front().second,
      absl::StrCat("autotune at batch ", params.n, ": ", absl::StrJoin(parts, " < "),
                   out_of_time ? AutotuneCutShort(options.policy.autotune_budget_ms) : "")};
}

absl::StatusOr<Choice> ChooseAlgorithm(const Layer& layer, const ConvParams& params,
                                       const PlanOptions& options, int threads,
                                       Clock::time_point autotune_deadline) {
  if (const std::optional<std::string> forced = ForcedAlgorithm(options.policy, layer.name)) {
    const std::string& requested = *forced;
    const ConvAlgorithm* algorithm = cpu::FindConvAlgorithm(requested);
    if (algorithm == nullptr && IsGpuOnlyConvAlgorithm(requested)) {
      Choice fallback = Heuristic(params);  // its why starts "heuristic: "
      fallback.why = absl::StrCat("forced ", requested, " runs on the GPU only; ", fallback.why);
      return fallback;
    }
    if (algorithm == nullptr) return UnknownConvAlgorithm(layer.name, requested);
    const absl::Status can = algorithm->CanImplement(params);
    if (can.ok()) return Choice{algorithm, absl::StrCat("forced ", requested)};
    Choice fallback = Heuristic(params);
    fallback.why =
        absl::StrCat("forced ", requested, " cannot: ", can.message(), "; ", fallback.why);
    return fallback;
  }
  if (options.policy.mode == AlgorithmPolicy::Mode::kAutotune) {
    if (!options.autotune_cpu) {
      Choice choice = Heuristic(params);
      choice.why = absl::StrCat("the GPU autotunes; ", choice.why);
      return choice;
    }
    return Autotune(layer, params, options, threads, autotune_deadline);
  }
  return Heuristic(params);
}

}  // namespace

std::string AutotuneBudgetSpent(int64_t budget_ms) {
  return absl::StrCat("autotune budget of ", budget_ms, " ms spent");
}

std::string AutotuneCutShort(int64_t budget_ms) {
  return absl::StrCat(" (", AutotuneBudgetSpent(budget_ms), ": the others untimed)");
}

std::optional<std::string> ForcedAlgorithm(const AlgorithmPolicy& policy,
                                           const std::string& layer_name) {
  if (auto it = policy.per_layer.find(layer_name); it != policy.per_layer.end()) return it->second;
  if (policy.mode == AlgorithmPolicy::Mode::kForced) return policy.algorithm;
  return std::nullopt;
}

absl::Status UnknownConvAlgorithm(const std::string& layer_name, const std::string& name) {
  return absl::InvalidArgumentError(absl::StrCat("layer '", layer_name, "': unknown algorithm '",
                                                 name, "' (", ConvAlgorithmNames(), ")"));
}

bool IsGpuOnlyConvAlgorithm(std::string_view name) {
  return std::find(std::begin(kGpuOnlyConvAlgorithms), std::end(kGpuOnlyConvAlgorithms), name) !=
         std::end(kGpuOnlyConvAlgorithms);
}

std::string ConvAlgorithmNames() {
  std::vector<std::string> names;
  for (const ConvAlgorithm* algorithm : cpu::AllConvAlgorithms()) {
    names.emplace_back(algorithm->name());
  }
  for (const char* name : kGpuOnlyConvAlgorithms) names.push_back(absl::StrCat(name, " (GPU)"));
  return absl::StrJoin(names, ", ");
}

const std::vector<const ConvAlgorithm*>& CpuConvCandidates() {
  return cpu::AllConvAlgorithms();
}

int64_t ExecutionPlan::LayerWorkspaceBytes(size_t index, int batch, int threads) const {
  const Layer& layer = graph.layers[index];
  if (const ConvAlgorithm* algorithm = layers[index].algorithm) {
    return algorithm->WorkspaceBytes(ConvParamsFor(graph, layer, batch), threads);
  }
  if (layer.kind == LayerKind::kFullyConnected) {
    return cpu::FullyConnectedWorkspaceFloats(FullyConnectedParamsFor(graph, layer, batch),
                                              threads, layers[index].weight_halves) *
           int64_t{sizeof(float)};
  }
  return 0;
}

int64_t ExecutionPlan::WorkspaceBytes(int batch, int threads) const {
  int64_t bytes = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    bytes = std::max(bytes, LayerWorkspaceBytes(i, batch, threads));
  }
  return bytes;
}

cpu::FullyConnectedWeights ExecutionPlan::FullyConnectedWeightsOf(size_t index) const {
  if (layers[index].weight_halves) {
    return {nullptr, reinterpret_cast<const uint16_t*>(layers[index].packed.data.data())};
  }
  return {graph.layers[index].weight.data()};
}

int64_t ExecutionPlan::HostWeightBytes() const {
  int64_t floats = 0;
  for (const Layer& layer : graph.layers) {
    floats += static_cast<int64_t>(layer.weight.size() + layer.bias.size() +
                                   layer.running_mean.size() + layer.running_var.size());
  }
  int64_t bytes = floats * static_cast<int64_t>(sizeof(float));
  for (const PlannedLayer& layer : layers) bytes += layer.packed.data.bytes();
  return bytes;
}

std::string ExecutionPlan::DebugString() const {
  std::string out;
  for (size_t i = 0; i < graph.layers.size(); ++i) {
    const Layer& layer = graph.layers[i];
    absl::StrAppendFormat(&out, "%-12s %-16s %-20s", layer.name, LayerKindName(layer.kind),
                          layer.output.ToString());
    if (!layer.fused.empty()) absl::StrAppend(&out, " +", absl::StrJoin(layer.fused, "+"));
    if (layers[i].algorithm != nullptr) {
      absl::StrAppend(&out, " ", std::string(layers[i].algorithm->name()), " (", layers[i].why, ")");
    } else if (layers[i].weight_halves) {
      absl::StrAppend(&out, " (", layers[i].why, ")");
    }
    out += "\n";
  }
  return out;
}

namespace {

// `layer`'s weights rounded to halves, two to a float; INVALID_ARGUMENT,
// naming the layer and the weight, for one no half is near.
absl::StatusOr<AlignedBuffer> WeightsAsHalves(const Layer& layer) {
  const std::vector<float>& weights = layer.weight;
  AlignedBuffer packed((static_cast<int64_t>(weights.size()) + 1) / 2);
  uint16_t* halves = reinterpret_cast<uint16_t*>(packed.data());
  for (size_t j = 0; j < weights.size(); ++j) {
    if (!(std::abs(weights[j]) <= cpu::kHalfMax)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layer '", layer.name, "': weight ", j, " is ", weights[j],
          ", which FP16 cannot hold (finite, within +-65504); algorithm_policy.cpu_weights "
          "WEIGHTS_FP16 needs every fully connected weight to fit"));
    }
    halves[j] = cpu::FloatToHalf(weights[j]);
  }
  return packed;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExecutionPlan>> Plan(Graph graph,
                                                    const PlanOptions& options) {
  auto plan = std::make_unique<ExecutionPlan>();
  plan->threads = options.thread_pool ? options.thread_pool->num_threads() : 1;
  plan->policy = options.policy;
  const Clock::time_point autotune_deadline =
      Clock::now() + std::chrono::milliseconds(options.policy.autotune_budget_ms);
  plan->layers.resize(graph.layers.size());
  for (const auto& [name, algorithm] : options.policy.per_layer) {
    const int index = graph.Find(name);
    if (index < 0 || graph.layers[index].kind != LayerKind::kConvolution) {
      return absl::InvalidArgumentError(absl::StrCat(
          "algorithm policy names layer '", name, "', which is not a convolution"));
    }
  }
  for (size_t i = 0; i < graph.layers.size(); ++i) {
    const Layer& layer = graph.layers[i];
    if (layer.kind == LayerKind::kBatchNorm) {
      const ScaleShift normalise = BatchNormAsScaleShift(layer);
      const int channels = static_cast<int>(normalise.scale.size());
      AlignedBuffer& packed = plan->layers[i].packed.data;
      packed = AlignedBuffer(2 * int64_t{channels});
      for (int c = 0; c < channels; ++c) {
        packed.data()[c] = static_cast<float>(normalise.scale[c]);
        packed.data()[channels + c] = static_cast<float>(normalise.shift[c]);
      }
      continue;
    }
    if (layer.kind == LayerKind::kFullyConnected &&
        options.policy.cpu_weights == AlgorithmPolicy::CpuWeights::kFp16) {
      ASSIGN_OR_RETURN(plan->layers[i].packed.data, WeightsAsHalves(layer));
      plan->layers[i].weight_halves = true;
      plan->layers[i].why = "weights stored as FP16 (algorithm_policy.cpu_weights)";
      if (!options.gpu_runs_plan) graph.layers[i].weight = std::vector<float>();
      continue;
    }
    if (layer.kind != LayerKind::kConvolution) continue;
    const ConvParams params = ConvParamsFor(graph, layer, 1);
    ASSIGN_OR_RETURN(Choice choice,
                     ChooseAlgorithm(layer, params, options, plan->threads, autotune_deadline));
    ASSIGN_OR_RETURN(plan->layers[i].packed,
                     choice.algorithm->PrepareWeights(params, layer.weight.data()));
    plan->layers[i].algorithm = choice.algorithm;
    plan->layers[i].why = std::move(choice.why);
  }
  plan->graph = std::move(graph);
  return plan;
}

absl::StatusOr<AlgorithmPolicy> PolicyFromName(const std::string& name) {
  AlgorithmPolicy policy;
  if (name == "auto") return policy;
  if (name == "autotune") {
    policy.mode = AlgorithmPolicy::Mode::kAutotune;
    return policy;
  }
  if (cpu::FindConvAlgorithm(name) == nullptr && !IsGpuOnlyConvAlgorithm(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown algorithm '", name, "'; expected auto, autotune, ", ConvAlgorithmNames()));
  }
  policy.mode = AlgorithmPolicy::Mode::kForced;
  policy.algorithm = name;
  return policy;
}

}  // namespace convd
