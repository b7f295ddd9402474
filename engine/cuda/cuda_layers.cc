#include "engine/cuda/cuda_layers.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/conv_launch.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/elementwise_launch.h"
#include "kernels/cuda/pool_launch.h"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/cuda/winograd_launch.h"

namespace convd::cuda {
namespace {

// The heuristic's thresholds, read off the first H100 run of
// gpu_conv_bench (bench/GPU_NOTES.md, entry 15). Direct convolution, a
// thread per output with its whole depth in a loop, ran at 0.2-0.5 TMAC/s,
// and the tiled products cost ~0.015 ms at the least: direct wins only
// where the whole layer is a few million MACs and a thread's loop is short
// (LeNet's layers, GoogLeNet's 4a 5x5 and ResNet's 1x1 stride-2 projection
// at batch 1).
constexpr int64_t kDirectMaxMacs = int64_t{8} << 20;
constexpr int64_t kDirectMaxDepth = 512;  // C/g*R*S
// Implicit GEMM has no split of K, so it wins once the batch's output
// columns (N*P*Q) fill the device's tiles on their own: at batch 32 it beat
// im2col on every layer that needs unrolling (1.5-3x); at batch 1, im2col's
// split K won on planes of up to 784 outputs, implicit GEMM from 3,025.
constexpr int64_t kImplicitGemmMinColumns = 2048;
// Winograd's products want this many channels a group on both sides. 3x3:
// from the first run (F(4x4) and F(2x2) led every 3x3 layer of 16+
// channels). 5x5 (GPU_NOTES entries 17 and 33, not yet measured): F(2x2,5x5)'s
// transforms move 9 floats a pixel a channel (F(4x4,3x3): 2.25), which a
// cost model of the run's rates (products ~20 TFLOP/s, transforms at HBM
// bandwidth, implicit GEMM ~19 TFLOP/s) puts ahead of implicit GEMM when
// 1/C' + 1/K' < 0.06: GoogLeNet's 32->96 by 1.25x, AlexNet's 64->192 by
// 1.75x, but not 16->48. F(4x4,5x5) moves 4 floats and multiplies 4 times
// an output where F(2x2,5x5) multiplies 9, so it takes those layers (on
// the CPU it ran both AlexNets' conv2 1.65-2.0x faster).
constexpr int kWinograd3x3MinChannels = 16;
constexpr int kWinograd5x5MinChannels = 32;
// F(4x4,3x3) against F(2x2,3x3) on 3x3 layers: F(4x4) led every layer at
// batch 32, but at batch 1 F(2x2) led on all six planes of 16 or fewer
// 4x4 tiles (AlexNet's 13x13, VGG-16's and ResNet's 14x14: by 1.09-1.63x)
// and the two were level, either way, from 49 tiles up. So F(4x4) takes a
// batch whose 4x4 tiles number more than this (and planes of 8x8 and up).
constexpr int64_t kWinogradF23MaxF43Tiles = 16;

// Whether implicit GEMM can run with the weights `algorithm` keeps (the
// layout [K, C/g, R, S]), with no workspace: direct's and im2col's.
bool ImplicitGemmRunsItsWeights(GpuConv algorithm) {
  return algorithm == GpuConv::kDirect || algorithm == GpuConv::kIm2col;
}

absl::Status LayerError(const Layer& layer, cudaError_t error, const char* what) {
  return absl::Status(CudaStatus(error, what, __FILE__, __LINE__).code(),
                      absl::StrCat("layer '", layer.name, "': ", what, ": ",
                                   cudaGetErrorName(error), ": ", cudaGetErrorString(error)));
}

// A fully connected layer as our SGEMM computes it: [batch, in] x the
// transposed weights [in, out].
GemmShape FullyConnectedGemm(const Graph& graph, const Layer& layer, int batch) {
  const FullyConnectedParams p = FullyConnectedParamsFor(graph, layer, batch);
  return GemmShape{p.n,           p.out_features, p.in_features,
                   p.in_features, p.out_features, p.out_features};
}

}  // namespace

const char* GpuConvName(GpuConv algorithm) {
  for (const GpuConvNames& names : kGpuConvs) {
    if (names.algorithm == algorithm) return names.name;
  }
  return "none";
}

std::optional<WinogradVariant> WinogradVariantOf(GpuConv algorithm) {
  switch (algorithm) {
    case GpuConv::kWinogradF23:
      return WinogradVariant::kF23;
    case GpuConv::kWinogradF43:
      return WinogradVariant::kF43;
    case GpuConv::kWinogradF25:
      return WinogradVariant::kF25;
    case GpuConv::kWinogradF45:
      return WinogradVariant::kF45;
    case GpuConv::kIm2col:
    case GpuConv::kImplicitGemm:
    case GpuConv::kDirect:
    case GpuConv::kNone:
      break;
  }
  return std::nullopt;
}

std::vector<GpuConv> ConvCandidates(const DeviceConvShape& shape) {
  std::vector<GpuConv> candidates;
  const bool winograd_3x3 = WinogradApplies(WinogradVariant::kF43, shape);
  if (winograd_3x3) candidates.push_back(GpuConv::kWinogradF43);
  if (WinogradApplies(WinogradVariant::kF45, shape)) candidates.push_back(GpuConv::kWinogradF45);
  if (WinogradApplies(WinogradVariant::kF25, shape)) candidates.push_back(GpuConv::kWinogradF25);
  candidates.push_back(GpuConv::kIm2col);
  candidates.push_back(GpuConv::kImplicitGemm);
  if (winograd_3x3) candidates.push_back(GpuConv::kWinogradF23);
  candidates.push_back(GpuConv::kDirect);
  return candidates;
}

absl::StatusOr<ConvChoice> ChooseConv(const DeviceConvShape& shape, const AlgorithmPolicy& policy,
                                      const std::string& layer_name) {
  auto [heuristic, why] = ChooseConv(shape);
  const std::optional<std::string> forced = ForcedAlgorithm(policy, layer_name);
  if (!forced.has_value()) return ConvChoice{heuristic, std::move(why)};
  const std::string& requested = *forced;
  const auto* names =
      std::find_if(std::begin(kGpuConvs), std::end(kGpuConvs),
                   [&](const GpuConvNames& n) { return requested == n.policy_name; });
  if (names == std::end(kGpuConvs)) {
    const auto& cpu = CpuConvCandidates();
    if (std::none_of(cpu.begin(), cpu.end(),
                     [&](const ConvAlgorithm* a) { return a->name() == requested; })) {
      return UnknownConvAlgorithm(layer_name, requested);
    }
    return ConvChoice{
        heuristic, absl::StrCat("forced ", requested, " runs on the CPU only; heuristic: ", why)};
  }
  const std::vector<GpuConv> candidates = ConvCandidates(shape);
  if (std::find(candidates.begin(), candidates.end(), names->algorithm) == candidates.end()) {
    return ConvChoice{
        heuristic, absl::StrCat("forced ", requested, " cannot run this layer; heuristic: ", why)};
  }
  return ConvChoice{names->algorithm, absl::StrCat("forced ", requested), true};
}

GpuConv HeuristicConv(const DeviceConvShape& s) {
  const int64_t columns = int64_t{s.n} * s.plane_out();
  if (columns * s.k * s.gemm_k() <= kDirectMaxMacs && s.gemm_k() <= kDirectMaxDepth) {
    return GpuConv::kDirect;
  }
  const int channels = std::min(s.c_per_group(), s.k_per_group());
  if (WinogradApplies(WinogradVariant::kF43, s) && channels >= kWinograd3x3MinChannels) {
    const int64_t f43_tiles = int64_t{s.n} * ((s.p + 3) / 4) * ((s.q + 3) / 4);
    return s.p >= 8 && s.q >= 8 && f43_tiles > kWinogradF23MaxF43Tiles ? GpuConv::kWinogradF43
                                                                       : GpuConv::kWinogradF23;
  }
  if (WinogradApplies(WinogradVariant::kF45, s) && channels >= kWinograd5x5MinChannels) {
    return GpuConv::kWinogradF45;
  }
  if (Im2colIsIdentity(s) || columns < kImplicitGemmMinColumns) return GpuConv::kIm2col;
  return GpuConv::kImplicitGemm;
}

std::pair<GpuConv, std::string> ChooseConv(const DeviceConvShape& s) {
  const GpuConv conv = HeuristicConv(s);
  const int64_t columns = int64_t{s.n} * s.plane_out();
  switch (conv) {
    case GpuConv::kDirect:
      return {conv, absl::StrCat("small layer (", columns * s.k * s.gemm_k(), " MACs, ", s.gemm_k(),
                                 " per output): direct")};
    case GpuConv::kWinogradF43:
      return {conv, absl::StrCat("3x3 stride 1, ", kWinograd3x3MinChannels,
                                 "+ channels a group, more than ", kWinogradF23MaxF43Tiles,
                                 " 4x4 output tiles: winograd F(4x4)")};
    case GpuConv::kWinogradF23:
      return {conv, absl::StrCat("3x3 stride 1, ", kWinograd3x3MinChannels, "+ channels a group, ",
                                 kWinogradF23MaxF43Tiles,
                                 " or fewer 4x4 output tiles or a plane under 8x8: winograd "
                                 "F(2x2)")};
    case GpuConv::kWinogradF45:
      return {conv, absl::StrCat("5x5 stride 1, ", kWinograd5x5MinChannels,
                                 "+ channels a group: winograd F(4x4,5x5)")};
    case GpuConv::kImplicitGemm:
      return {conv, absl::StrCat(columns, " output columns: implicit GEMM (no unrolling)")};
    case GpuConv::kWinogradF25:  // never the heuristic's: F(4x4,5x5) takes its layers
    case GpuConv::kIm2col:
    case GpuConv::kNone:
      break;
  }
  if (Im2colIsIdentity(s)) {
    return {GpuConv::kIm2col, "1x1 stride 1: im2col's product reads the input in place"};
  }
  return {GpuConv::kIm2col,
          absl::StrCat(columns, " output columns: im2col + our SGEMM, K split to fill the device")};
}

GpuConv WinogradAtLargerBatches(const DeviceConvShape& batch1) {
  if (HeuristicConv(batch1) != GpuConv::kWinogradF23) return GpuConv::kNone;
  DeviceConvShape large = batch1;
  large.n = 1 << 16;  // past every threshold of the rule that grows with the batch
  return HeuristicConv(large) == GpuConv::kWinogradF43 ? GpuConv::kWinogradF43 : GpuConv::kNone;
}

bool PicksPerBatch(const DeviceLayer& device) {
  return device.by_heuristic && (ImplicitGemmRunsItsWeights(device.conv) ||
                                 device.larger_batch_winograd != GpuConv::kNone);
}

GpuConv ConvForBatch(const DeviceLayer& device, const DeviceConvShape& shape) {
  if (!device.by_heuristic) return device.conv;
  const GpuConv pick = HeuristicConv(shape);
  if (pick == GpuConv::kImplicitGemm && ImplicitGemmRunsItsWeights(device.conv)) return pick;
  if (pick != GpuConv::kNone && pick == device.larger_batch_winograd) return pick;
  return device.conv;
}

const DeviceBuffer& ConvWeights(const DeviceLayer& device, GpuConv algorithm) {
  return algorithm != GpuConv::kNone && algorithm == device.larger_batch_winograd
             ? device.larger_batch_weights
             : device.weights;
}

absl::Status UploadLargerBatchWinograd(const ExecutionPlan& plan, int index,
                                       const DeviceConvShape& batch1, DeviceLayer& device) {
  if (!device.by_heuristic || device.conv != GpuConv::kWinogradF23) return absl::OkStatus();
  const GpuConv larger = WinogradAtLargerBatches(batch1);
  if (larger == GpuConv::kNone) return absl::OkStatus();
  auto uploaded = DeviceBuffer::FromHost(WinogradTransformFilters(
      *WinogradVariantOf(larger), batch1, plan.graph.layers[index].weight.data()));
  if (!uploaded.ok()) return uploaded.status();
  device.larger_batch_weights = std::move(*uploaded);
  device.larger_batch_winograd = larger;
  return absl::OkStatus();
}

int64_t ConvWorkspaceFloats(GpuConv algorithm, const DeviceConvShape& shape, int images) {
  switch (algorithm) {
    case GpuConv::kIm2col:  // a product too small for the device splits its K where that pays
      return Im2colWorkspaceFloats(shape, images) + Im2colSplitKFloats(shape, images);
    case GpuConv::kWinogradF23:
    case GpuConv::kWinogradF43:
    case GpuConv::kWinogradF25:
    case GpuConv::kWinogradF45:
      return WinogradWorkspaceFloats(*WinogradVariantOf(algorithm), shape, images);
    case GpuConv::kImplicitGemm:
    case GpuConv::kDirect:
    case GpuConv::kNone: break;
  }
  return 0;
}

int64_t FullyConnectedWorkspaceFloats(const Graph& graph, const Layer& layer, int batch) {
  const GemmShape shape = FullyConnectedGemm(graph, layer, batch);
  return SplitKWorkspaceFloats(shape, SplitKFor(shape));
}

absl::StatusOr<DeviceLayer> UploadLayer(const ExecutionPlan& plan, int index, GpuConv conv) {
  const Graph& graph = plan.graph;
  const Layer& layer = graph.layers[index];
  DeviceLayer device;
  device.conv = conv;
  std::vector<float> weights;
  switch (layer.kind) {
    case LayerKind::kConvolution:
      if (const std::optional<WinogradVariant> variant = WinogradVariantOf(conv)) {
        weights = WinogradTransformFilters(*variant, ToDeviceConv(ConvParamsFor(graph, layer, 1)),
                                           layer.weight.data());
      } else {
        weights = layer.weight;
      }
      break;
    case LayerKind::kFullyConnected: {
      // [out, in] -> [in, out]: the SGEMM's B for out = in x W^T.
      const FullyConnectedParams p = FullyConnectedParamsFor(graph, layer, 1);
      if (static_cast<int64_t>(layer.weight.size()) != p.macs()) {
        return absl::FailedPreconditionError(
            absl::StrCat("layer '", layer.name,
                         "': the plan holds its weights only as the CPU's FP16 (planned with "
                         "gpu_runs_plan false)"));
      }
      weights.resize(layer.weight.size());
      for (int o = 0; o < p.out_features; ++o) {
        for (int i = 0; i < p.in_features; ++i) {
          weights[int64_t{i} * p.out_features + o] = layer.weight[int64_t{o} * p.in_features + i];
        }
      }
      break;
    }
    case LayerKind::kBatchNorm: {
      const AlignedBuffer& packed = plan.layers[index].packed.data;
      auto scale_shift = DeviceBuffer::FromHost(
          std::vector<float>(packed.data(), packed.data() + packed.size()));
      if (!scale_shift.ok()) return scale_shift.status();
      device.scale_shift = std::move(*scale_shift);
      break;
    }
    default:
      break;
  }
  auto uploaded = DeviceBuffer::FromHost(weights);
  if (!uploaded.ok()) return uploaded.status();
  device.weights = std::move(*uploaded);
  auto bias = DeviceBuffer::FromHost(layer.bias);
  if (!bias.ok()) return bias.status();
  device.bias = std::move(*bias);
  return device;
}

absl::Status LaunchLayer(const Graph& graph, int index, const DeviceLayer& device, int batch,
                         const LayerBuffers& buffers, cudaStream_t stream, GemmMath math) {
  const Layer& layer = graph.layers[index];
  const TensorShape in_shape = graph.layers[layer.inputs[0]].output.WithBatch(batch);
  const int64_t count = layer.output.per_sample() * batch;
  const float* in = buffers.inputs[0];
  float* out = buffers.output;
  const DeviceActivationFunction activation = ToDeviceActivation(layer.fused_activation);
  const float* bias = layer.bias.empty() ? nullptr : device.bias.data();
  cudaError_t error = cudaSuccess;
  switch (layer.kind) {
    case LayerKind::kConvolution: {
      const DeviceConvShape shape = ToDeviceConv(ConvParamsFor(graph, layer, batch));
      ConvEpilogue epilogue{bias, buffers.residual, activation};
      const GpuConv conv = ConvForBatch(device, shape);
      const float* weights = ConvWeights(device, conv).data();
      switch (conv) {
        case GpuConv::kIm2col:
          error = LaunchConvIm2col(shape, in, weights, epilogue, buffers.workspace,
                                   buffers.workspace_floats, out, stream, math);
          break;
        case GpuConv::kImplicitGemm:
          error = LaunchConvImplicitGemm(shape, in, weights, epilogue, out, stream, math);
          break;
        case GpuConv::kDirect:
          error = LaunchConvDirect(shape, in, weights, epilogue, out, stream);
          break;
        case GpuConv::kWinogradF23:
        case GpuConv::kWinogradF43:
        case GpuConv::kWinogradF25:
        case GpuConv::kWinogradF45:
          error =
              LaunchConvWinograd(*WinogradVariantOf(conv), shape, in, weights, epilogue,
                                 buffers.workspace, buffers.workspace_floats, out, stream, math);
          break;
        case GpuConv::kNone:
          return absl::InternalError(absl::StrCat("layer '", layer.name, "' has no GPU algorithm"));
      }
      if (error != cudaSuccess) return LayerError(layer, error, GpuConvName(conv));
      return absl::OkStatus();
    }
    case LayerKind::kFullyConnected: {
      GemmEpilogue epilogue;
      epilogue.bias = bias;
      epilogue.bias_per_row = false;
      epilogue.residual = buffers.residual;
      epilogue.activation = activation;
      error = LaunchSgemm(FullyConnectedGemm(graph, layer, batch), in, device.weights.data(), out,
                          epilogue, stream, math,
                          GemmWorkspace{buffers.workspace, buffers.workspace_floats});
      break;
    }
    case LayerKind::kPooling:
      error = LaunchPool(ToDevicePool(PoolParamsFor(graph, layer, batch)), in, out, stream);
      break;
    case LayerKind::kLrn:
      error = LaunchLrn(batch, in_shape.c, int64_t{in_shape.h} * in_shape.w, layer.lrn.size,
                        layer.lrn.alpha, layer.lrn.beta, layer.lrn.k, in, out, stream);
      break;
    case LayerKind::kActivation:
      error = LaunchBiasActivation(in, nullptr, count, 1, count,
                                   ToDeviceActivation(layer.activation), out, stream);
      break;
    case LayerKind::kDropout:
      error = cudaMemcpyAsync(out, in, count * sizeof(float), cudaMemcpyDeviceToDevice, stream);
      break;
    case LayerKind::kFlatten:
      return absl::OkStatus();  // a view of its input
    case LayerKind::kSoftmax:
      error = LaunchSoftmax(batch, in_shape.c, int64_t{in_shape.h} * in_shape.w,
                            layer.log_softmax, in, out, stream);
      break;
    case LayerKind::kAdd: {
      // Pairwise; the activation only on the last sum.
      const DeviceActivationFunction none{};
      const size_t inputs = buffers.inputs.size();
      for (size_t i = 1; i < inputs && error == cudaSuccess; ++i) {
        error = LaunchAdd(i == 1 ? buffers.inputs[0] : out, buffers.inputs[i], count,
                          i + 1 == inputs ? activation : none, out, stream);
      }
      break;
    }
    case LayerKind::kConcat: {
      // Each input's channels land at their offset in every image.
      const int64_t plane = int64_t{layer.output.h} * layer.output.w;
      int64_t channel_offset = 0;
      for (size_t i = 0; i < layer.inputs.size() && error == cudaSuccess; ++i) {
        const int channels = graph.layers[layer.inputs[i]].output.c;
        const size_t width = channels * plane * sizeof(float);
        error = cudaMemcpy2DAsync(out + channel_offset * plane,
                                  layer.output.c * plane * sizeof(float), buffers.inputs[i], width,
                                  width, batch, cudaMemcpyDeviceToDevice, stream);
        channel_offset += channels;
      }
      break;
    }
    case LayerKind::kBatchNorm: {
      const int channels = layer.output.c;
      error = LaunchScaleShift(in, count, channels, int64_t{layer.output.h} * layer.output.w,
                               device.scale_shift.data(), device.scale_shift.data() + channels,
                               out, stream);
      break;
    }
    case LayerKind::kInput:
      return absl::InternalError(absl::StrCat("layer '", layer.name, "' is a second input"));
  }
  if (error != cudaSuccess) return LayerError(layer, error, LayerKindName(layer.kind));
  return absl::OkStatus();
}

}  // namespace convd::cuda
