// Direct convolution, for small layers (LeNet's) where im2col's copy and
// the GEMM's packing cost more than the arithmetic.
//
// Load time: filters are packed in blocks of one or two vectors of kLanes
// (zero-padded), W[group][filter block][c][r][s][filters of the block], so
// one tap of a block is one or two vectors. Run time, per (image, group, filter
// block) task: the group's input planes are copied with their zero
// padding into the task's workspace slot (unless the layer has none), then
// each output row is computed a few outputs at a time: a vector
// accumulator each, each tap's filter vector multiplied by a broadcast input
// value, with no bounds checks. Bias and ReLU are applied as outputs are
// stored; a residual or another activation over the planes at the end.
//
// The same code is compiled three times: for the build's baseline (SSE, a
// vector of 8 is two registers), for AVX2 with FMA (one register, fused
// multiply-adds) and for AVX-512 (a block of 16 filters in one register),
// the widest the CPU runs chosen at run time.
#include <algorithm>
#include <cstring>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/work_estimate.h"
#include "kernels/epilogue_inl.h"

namespace convd::cpu {
namespace {

constexpr int kLanes = 8;
// A vector of kVectorLanes filters. may_alias: the packed weights are
// floats, read a vector at a time. The AVX-512 build reads a block of two
// vectors of kLanes (16 filters, contiguous for each tap) as one of 16.
template <int kVectorLanes>
struct Vectors {
  typedef float Filter __attribute__((vector_size(kVectorLanes * sizeof(float)), may_alias));
};

bool HasPadding(const ConvParams& p) {
  return p.pad_top != 0 || p.pad_left != 0 || p.pad_bottom != 0 || p.pad_right != 0;
}

// The padded input plane's size.
int PaddedHeight(const ConvParams& p) { return p.h + p.pad_top + p.pad_bottom; }
int PaddedWidth(const ConvParams& p) { return p.w + p.pad_left + p.pad_right; }

// Filter vectors per block: two where the group has more than one
// vector's worth of filters (each broadcast input value then feeds two
// multiply-adds), else one.
int VectorsPerBlock(const ConvParams& p) { return p.k_per_group() > kLanes ? 2 : 1; }
int FiltersPerBlock(const ConvParams& p) { return VectorsPerBlock(p) * kLanes; }
int FilterBlocks(const ConvParams& p) {
  return (p.k_per_group() + FiltersPerBlock(p) - 1) / FiltersPerBlock(p);
}

// (The vector type is named by its lanes, not passed as a type: a template
// argument would lose the typedef's attributes.)
template <int kVectorLanes>
using FilterVectorOf = typename Vectors<kVectorLanes>::Filter;

// Outputs [ow, ow + kCount) of row oh, filter block `w` (its taps for
// channel 0, kVectors vectors each; channels follow), from padded input
// planes `in`. kStrideW: the layer's stride_w where it is 1, 2 or 4, else
// 0 (read from p). A constant stride puts each output's input at a
// constant offset, so each multiply-add reads it as [base + offset]: at a
// stride known only at run time, [base + index * 4] is split into two
// micro-ops per multiply-add on Intel's cores.
template <int kCount, int kPixels, int kVectors, int kVectorLanes, int kStrideW>
[[gnu::always_inline]] inline void OutputBlock(
    const ConvParams& p, const float* in, int64_t in_plane, int in_width,
    const FilterVectorOf<kVectorLanes>* w, int oh, int ow,
    FilterVectorOf<kVectorLanes> (&acc)[kPixels][kVectors]) {
  using FilterVector = FilterVectorOf<kVectorLanes>;
  for (int j = 0; j < kCount; ++j) {
    for (int v = 0; v < kVectors; ++v) acc[j][v] = FilterVector{};
  }
  const int stride_w = kStrideW > 0 ? kStrideW : p.stride_w;
  const int taps = p.r * p.s;
  for (int c = 0; c < p.c_per_group(); ++c) {
    const float* plane = in + c * in_plane;
    const FilterVector* tap = w + c * taps * kVectors;
    for (int r = 0; r < p.r; ++r) {
      const float* row =
          plane + int64_t{oh * p.stride_h + r * p.dilation_h} * in_width + int64_t{ow} * stride_w;
      for (int s = 0; s < p.s; ++s) {
        FilterVector filters[kVectors];
        for (int v = 0; v < kVectors; ++v) filters[v] = tap[(r * p.s + s) * kVectors + v];
        const float* x = row + s * p.dilation_w;
#pragma GCC unroll 16
        for (int j = 0; j < kCount; ++j) {
          const float value = x[j * stride_w];
          for (int v = 0; v < kVectors; ++v) acc[j][v] += filters[v] * value;
        }
      }
    }
  }
}

// The last `count` (< kPixels) outputs of a row as one block.
template <int kCount, int kPixels, int kVectors, int kVectorLanes, int kStrideW>
[[gnu::always_inline]] inline void RemainderBlock(
    const ConvParams& p, const float* in, int64_t in_plane, int in_width,
    const FilterVectorOf<kVectorLanes>* w, int oh, int ow, int count,
    FilterVectorOf<kVectorLanes> (&acc)[kPixels][kVectors]) {
  if constexpr (kCount > 0) {
    if (count == kCount) {
      OutputBlock<kCount, kPixels, kVectors, kVectorLanes, kStrideW>(p, in, in_plane, in_width, w,
                                                                     oh, ow, acc);
    } else {
      RemainderBlock<kCount - 1, kPixels, kVectors, kVectorLanes, kStrideW>(
          p, in, in_plane, in_width, w, oh, ow, count, acc);
    }
  }
}

// Tasks [begin, end) of (image, group, filter block), slot `slot`;
// kPixels outputs of a row at a time; kVectors vectors of kVectorLanes
// filters make the FiltersPerBlock(p) filters of a block. kStrideW as for
// OutputBlock.
template <int kPixels, int kVectors, int kVectorLanes, int kStrideW>
[[gnu::always_inline]] inline void RunTasksWithStride(const ConvArgs& args, int64_t begin,
                                                      int64_t end, int slot) {
  using FilterVector = FilterVectorOf<kVectorLanes>;
  const ConvParams& p = args.params;
  const int cg = p.c_per_group(), kg = p.k_per_group(), blocks = FilterBlocks(p);
  const bool padded = HasPadding(p);
  const int in_height = padded ? PaddedHeight(p) : p.h;
  const int in_width = padded ? PaddedWidth(p) : p.w;
  const int64_t in_plane = int64_t{in_height} * in_width;
  const int64_t out_plane = int64_t{p.p} * p.q;
  const auto* weights = reinterpret_cast<const FilterVector*>(args.weights->data.data());
  // The (image, group) whose padded planes the slot holds: a run of tasks
  // over one image's filter blocks copies them once, not once a block
  // (AlexNet's conv1: a 624 KB copy for each of 4 blocks).
  int64_t copied_planes = -1;
  for (int64_t task = begin; task < end; ++task) {
    const int block = static_cast<int>(task % blocks);
    const int64_t planes = task / blocks;  // image * groups + group
    const int g = static_cast<int>(planes % p.groups);
    const int n = static_cast<int>(planes / p.groups);
    const float* input = args.input + (int64_t{n} * p.c + int64_t{g} * cg) * p.h * p.w;
    const float* in = input;
    if (padded) {
      float* copy = args.workspace + slot * cg * in_plane;
      if (planes != copied_planes) {
        std::fill_n(copy, cg * in_plane, 0.0f);
        for (int c = 0; c < cg; ++c) {
          for (int ih = 0; ih < p.h; ++ih) {
            std::memcpy(copy + c * in_plane + int64_t{ih + p.pad_top} * in_width + p.pad_left,
                        input + (int64_t{c} * p.h + ih) * p.w, p.w * sizeof(float));
          }
        }
        copied_planes = planes;
      }
      in = copy;
    }
    constexpr int kBlockFilters = kVectors * kVectorLanes;
    const FilterVector* w = weights + (int64_t{g} * blocks + block) * cg * p.r * p.s * kVectors;
    const int first_filter = block * kBlockFilters;
    const int filters = std::min(kBlockFilters, kg - first_filter);
    float* out = args.output + (int64_t{n} * p.k + int64_t{g} * kg + first_filter) * out_plane;
    // Bias and ReLU (or none) are applied to the accumulators as they are
    // stored; a residual or another activation, over the planes at the end
    // (per value in the store loop, those made LeNet's layers slower).
    const Activation activation = args.epilogue.activation.type;
    const bool fuse_epilogue = args.epilogue.residual == nullptr &&
                               (activation == Activation::kNone || activation == Activation::kRelu);
    const bool relu = activation == Activation::kRelu;
    FilterVector bias[kVectors] = {};
    for (int f = 0; f < filters && args.epilogue.bias != nullptr; ++f) {
      bias[f / kVectorLanes][f % kVectorLanes] = args.epilogue.bias[g * kg + first_filter + f];
    }
    // Zeros first: the epilogue below runs over every accumulator, also
    // those a remainder block leaves unused.
    FilterVector acc[kPixels][kVectors] = {};
    // Each accumulator holds one output of kVectorLanes planes: through memory,
    // whole vectors in and floats out, rather than lane by lane.
    auto store = [&](int oh, int ow, int count) {
      alignas(sizeof(FilterVector)) float tile[kPixels][kBlockFilters];
      if (fuse_epilogue) {
        // All kPixels, not `count`: indexed by a loop of unknown length, the
        // accumulators would live in memory (as the AVX-512 build's 12 did).
        for (int j = 0; j < kPixels; ++j) {
          for (int v = 0; v < kVectors; ++v) {
            acc[j][v] += bias[v];
            // As Activate: x > 0 ? x : 0 (NaN becomes 0).
            if (relu) acc[j][v] = acc[j][v] > 0.0f ? acc[j][v] : FilterVector{};
          }
        }
      }
      std::memcpy(tile, acc, sizeof(tile));
      for (int f = 0; f < filters; ++f) {
        float* to = out + f * out_plane + int64_t{oh} * p.q + ow;
        for (int j = 0; j < count; ++j) to[j] = tile[j][f];
      }
    };
    for (int oh = 0; oh < p.p; ++oh) {
      int ow = 0;
      for (; ow + kPixels <= p.q; ow += kPixels) {
        OutputBlock<kPixels, kPixels, kVectors, kVectorLanes, kStrideW>(p, in, in_plane, in_width,
                                                                        w, oh, ow, acc);
        store(oh, ow, kPixels);
      }
      if (ow < p.q) {
        RemainderBlock<kPixels - 1, kPixels, kVectors, kVectorLanes, kStrideW>(
            p, in, in_plane, in_width, w, oh, ow, p.q - ow, acc);
        store(oh, ow, p.q - ow);
      }
    }
    for (int f = 0; f < filters && !fuse_epilogue; ++f) {
      const int64_t offset = (out - args.output) + f * out_plane;
      ApplyEpilogue(args.epilogue, g * kg + first_filter + f, args.output + offset,
                    args.epilogue.residual ? args.epilogue.residual + offset : nullptr, out_plane);
    }
  }
}

// RunTasksWithStride with the layer's stride_w as a constant where it is
// 1, 2 or 4.
template <int kPixels, int kVectors, int kVectorLanes = kLanes>
[[gnu::always_inline]] inline void RunTasks(const ConvArgs& args, int64_t begin, int64_t end,
                                            int slot) {
  switch (args.params.stride_w) {
    case 1:
      return RunTasksWithStride<kPixels, kVectors, kVectorLanes, 1>(args, begin, end, slot);
    case 2:
      return RunTasksWithStride<kPixels, kVectors, kVectorLanes, 2>(args, begin, end, slot);
    case 4:
      return RunTasksWithStride<kPixels, kVectors, kVectorLanes, 4>(args, begin, end, slot);
    default:
      return RunTasksWithStride<kPixels, kVectors, kVectorLanes, 0>(args, begin, end, slot);
  }
}

// SSE: a vector of 8 is two of its 16 registers, so 8 registers of
// accumulators are 4 outputs of one filter vector or 2 of two.
void RunTasksBaseline(const ConvArgs& args, int64_t begin, int64_t end, int slot) {
  if (VectorsPerBlock(args.params) == 2) {
    RunTasks<2, 2>(args, begin, end, slot);
  } else {
    RunTasks<4, 1>(args, begin, end, slot);
  }
}

// AVX2: 8 accumulators (of 16 registers: 8 outputs of one filter vector or
// 4 of two) keep both FMA units busy through the FMA's latency.
// fp-contract=fast lets the compiler fuse acc + filters * x into one FMA.
[[gnu::target("avx2,fma"), gnu::optimize("fp-contract=fast")]] void RunTasksAvx2(
    const ConvArgs& args, int64_t begin, int64_t end, int slot) {
  if (VectorsPerBlock(args.params) == 2) {
    RunTasks<4, 2>(args, begin, end, slot);
  } else {
    RunTasks<8, 1>(args, begin, end, slot);
  }
}

// AVX-512: a block of 16 filters is one register, and 32 registers hold
// 12 outputs' accumulators with room to spare (12 FMAs a filter load).
// Blocks of up to 8 filters gain nothing from wider registers: AVX2's loops.
[[gnu::target("avx512f,avx2,fma"), gnu::optimize("fp-contract=fast")]] void RunTasksAvx512(
    const ConvArgs& args, int64_t begin, int64_t end, int slot) {
  if (VectorsPerBlock(args.params) == 2) {
    RunTasks<12, 1, 2 * kLanes>(args, begin, end, slot);
  } else {
    RunTasks<8, 1>(args, begin, end, slot);
  }
}

void RunTasksBuild(CpuBuild build, const ConvArgs& args, int64_t begin, int64_t end, int slot) {
  switch (build) {
    case CpuBuild::kAvx512:
      return RunTasksAvx512(args, begin, end, slot);
    case CpuBuild::kAvx2:
      return RunTasksAvx2(args, begin, end, slot);
    case CpuBuild::kBaseline:
      return RunTasksBaseline(args, begin, end, slot);
  }
}

class DirectConvAlgorithm final : public ConvAlgorithm {
 public:
  // `build`: which build of the loops runs (the CPU must support it).
  explicit DirectConvAlgorithm(CpuBuild build) : build_(build) {}

  std::string_view name() const override { return "direct"; }

  absl::Status CanImplement(const ConvParams&) const override { return absl::OkStatus(); }

  int64_t WorkspaceBytes(const ConvParams& p, int threads) const override {
    if (!HasPadding(p)) return 0;
    return int64_t{threads} * p.c_per_group() * PaddedHeight(p) * PaddedWidth(p) *
           int64_t{sizeof(float)};
  }

  absl::StatusOr<PackedWeights> PrepareWeights(const ConvParams& p,
                                               const float* weights) const override {
    const int cg = p.c_per_group(), kg = p.k_per_group(), blocks = FilterBlocks(p);
    const int taps = p.r * p.s, block_filters = FiltersPerBlock(p);
    PackedWeights packed{AlignedBuffer(int64_t{p.groups} * blocks * cg * taps * block_filters)};
    float* to = packed.data.data();
    std::fill_n(to, packed.data.size(), 0.0f);
    for (int k = 0; k < p.k; ++k) {
      const int g = k / kg, block = k % kg / block_filters, lane = k % kg % block_filters;
      for (int c = 0; c < cg; ++c) {
        for (int tap = 0; tap < taps; ++tap) {
          to[(((int64_t{g} * blocks + block) * cg + c) * taps + tap) * block_filters + lane] =
              weights[(int64_t{k} * cg + c) * taps + tap];
        }
      }
    }
    return packed;
  }

  absl::Status Run(const ConvArgs& args, const ExecContext& context) const override {
    const ConvParams& p = args.params;
    const int64_t work_per_task =
        int64_t{p.p} * p.q * p.c_per_group() * p.r * p.s * FiltersPerBlock(p) / kGemmMacsPerNs;
    ParallelFor(context.thread_pool, int64_t{p.n} * p.groups * FilterBlocks(p), work_per_task,
                [&](int64_t begin, int64_t end, int slot) {
                  RunTasksBuild(build_, args, begin, end, slot);
                });
    return absl::OkStatus();
  }

 private:
  const CpuBuild build_;
};

}  // namespace

const ConvAlgorithm& DirectConv() {
  static const DirectConvAlgorithm algorithm(WidestCpuBuild());
  return algorithm;
}

const ConvAlgorithm& DirectConvForTesting(CpuBuild build) {
  // Indexed by CpuBuild, narrowest first.
  static const DirectConvAlgorithm builds[] = {DirectConvAlgorithm(CpuBuild::kBaseline),
                                               DirectConvAlgorithm(CpuBuild::kAvx2),
                                               DirectConvAlgorithm(CpuBuild::kAvx512)};
  return builds[static_cast<int>(build)];
}

}  // namespace convd::cpu
