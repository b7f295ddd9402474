// Direct convolution, for small layers (LeNet's), filters of 5x5 and
// larger that Winograd does not take, and stride-1 layers of few taps
// (VGG's conv1_1): where im2col's copy and the GEMM's packing cost more
// than the arithmetic. This file holds the algorithm and its filter loops;
// conv_direct_rows.cc the row loops (conv_direct.h: which runs where).
//
// Load time: filters are packed in blocks of one or two vectors of kLanes
// (zero-padded), W[group][filter block][c][r][s][filters of the block], so
// one tap of a block is one or two vectors. The filter loops, per (image,
// group, filter block) task: each output row is computed a few outputs at
// a time, a vector accumulator each, each tap's filter vector multiplied by
// a broadcast input value, with no bounds checks (the input copied with its
// padding where it has any). Bias and ReLU are applied as outputs are
// stored; a residual or another activation over the planes at the end.
//
// The same code is compiled three times: for the build's baseline (SSE, a
// vector of 8 is two registers), for AVX2 with FMA (one register, fused
// multiply-adds) and for AVX-512 (a block of 16 filters in one register),
// the widest the CPU runs chosen at run time.
#include "kernels/cpu/conv_direct.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/work_estimate.h"
#include "kernels/epilogue_inl.h"

namespace convd::cpu {
namespace {

using direct::DirectTask;
using direct::FilterBlocks;
using direct::FiltersPerBlock;
using direct::ForEachDirectTask;
using direct::FusesEpilogue;
using direct::kLanes;
using direct::VectorsPerBlock;

// A vector of kVectorLanes filters. may_alias: the packed weights are
// floats, read a vector at a time. The AVX-512 build reads a block of two
// vectors of kLanes (16 filters, contiguous for each tap) as one of 16.
template <int kVectorLanes>
struct Vectors {
  typedef float Filter __attribute__((vector_size(kVectorLanes * sizeof(float)), may_alias));
};

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

// The filter loops over one task; kPixels outputs of a row at a time;
// kVectors vectors of kVectorLanes filters make the FiltersPerBlock(p)
// filters of a block. kStrideW as for OutputBlock.
template <int kPixels, int kVectors, int kVectorLanes, int kStrideW>
[[gnu::always_inline]] inline void ComputeTask(const ConvArgs& args, const DirectTask& t) {
  using FilterVector = FilterVectorOf<kVectorLanes>;
  const ConvParams& p = args.params;
  const int64_t out_plane = int64_t{p.p} * p.q;
  const auto* w = reinterpret_cast<const FilterVector*>(t.weights);
  constexpr int kBlockFilters = kVectors * kVectorLanes;
  const bool fuse_epilogue = FusesEpilogue(args.epilogue);
  const bool relu = args.epilogue.activation.type == Activation::kRelu;
  FilterVector bias[kVectors] = {};
  for (int f = 0; f < t.filters && args.epilogue.bias != nullptr; ++f) {
    bias[f / kVectorLanes][f % kVectorLanes] = args.epilogue.bias[t.first_filter + f];
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
    for (int f = 0; f < t.filters; ++f) {
      float* to = t.out + f * out_plane + int64_t{oh} * p.q + ow;
      for (int j = 0; j < count; ++j) to[j] = tile[j][f];
    }
  };
  for (int oh = 0; oh < p.p; ++oh) {
    int ow = 0;
    for (; ow + kPixels <= p.q; ow += kPixels) {
      OutputBlock<kPixels, kPixels, kVectors, kVectorLanes, kStrideW>(p, t.in, t.in_plane,
                                                                      t.in_width, w, oh, ow, acc);
      store(oh, ow, kPixels);
    }
    if (ow < p.q) {
      RemainderBlock<kPixels - 1, kPixels, kVectors, kVectorLanes, kStrideW>(
          p, t.in, t.in_plane, t.in_width, w, oh, ow, p.q - ow, acc);
      store(oh, ow, p.q - ow);
    }
  }
}

template <int kPixels, int kVectors, int kVectorLanes, int kStrideW>
[[gnu::always_inline]] inline void RunTasksWithStride(const ConvArgs& args, int64_t begin,
                                                      int64_t end, int slot) {
  ForEachDirectTask(
      args, DirectLoops::kFilters, begin, end,
      slot, [&](const DirectTask& t) __attribute__((always_inline)) {
        ComputeTask<kPixels, kVectors, kVectorLanes, kStrideW>(args, t);
      });
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

class DirectConvAlgorithm final : public ConvAlgorithm {
 public:
  // `build`: which build of the loops runs (the CPU must support it).
  // `loops`: which loops run, where they can (the row loops need stride
  // 1x1); none: ChooseDirectLoops decides.
  explicit DirectConvAlgorithm(CpuBuild build, std::optional<DirectLoops> loops = std::nullopt)
      : build_(build), loops_(loops) {}

  std::string_view name() const override { return "direct"; }

  absl::Status CanImplement(const ConvParams&) const override { return absl::OkStatus(); }

  int64_t WorkspaceBytes(const ConvParams& p, int threads) const override {
    if (!direct::NeedsInputCopy(p, Loops(p))) return 0;
    return int64_t{threads} * direct::SlotFloats(p) * int64_t{sizeof(float)};
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
    const DirectLoops loops = Loops(p);
    const int64_t work_per_task =
        int64_t{p.p} * p.q * p.c_per_group() * p.r * p.s * FiltersPerBlock(p) / kGemmMacsPerNs;
    ParallelFor(context.thread_pool, int64_t{p.n} * p.groups * FilterBlocks(p), work_per_task,
                [&](int64_t begin, int64_t end, int slot) {
                  if (loops == DirectLoops::kRows) {
                    direct::RunRowTasks(build_, args, begin, end, slot);
                  } else {
                    CallBuild(build_, RunTasksBaseline, RunTasksAvx2, RunTasksAvx512, args, begin,
                              end, slot);
                  }
                });
    return absl::OkStatus();
  }

 private:
  DirectLoops Loops(const ConvParams& p) const {
    if (!loops_.has_value()) return direct::ChooseDirectLoops(p, build_);
    return *loops_ == DirectLoops::kRows && !direct::RowLoopsCanRun(p) ? DirectLoops::kFilters
                                                                       : *loops_;
  }

  const CpuBuild build_;
  const std::optional<DirectLoops> loops_;
};

}  // namespace

const ConvAlgorithm& DirectConv() {
  static const DirectConvAlgorithm algorithm(WidestCpuBuild());
  return algorithm;
}

DirectLoops DirectConvLoops(const ConvParams& p) {
  return direct::ChooseDirectLoops(p, WidestCpuBuild());
}

const ConvAlgorithm& DirectConvForTesting(CpuBuild build, DirectLoops loops) {
  // Indexed by CpuBuild, narrowest first, then by loops.
  static const DirectConvAlgorithm builds[][2] = {
      {DirectConvAlgorithm(CpuBuild::kBaseline, DirectLoops::kFilters),
       DirectConvAlgorithm(CpuBuild::kBaseline, DirectLoops::kRows)},
      {DirectConvAlgorithm(CpuBuild::kAvx2, DirectLoops::kFilters),
       DirectConvAlgorithm(CpuBuild::kAvx2, DirectLoops::kRows)},
      {DirectConvAlgorithm(CpuBuild::kAvx512, DirectLoops::kFilters),
       DirectConvAlgorithm(CpuBuild::kAvx512, DirectLoops::kRows)}};
  return builds[static_cast<int>(build)][loops == DirectLoops::kRows ? 1 : 0];
}

}  // namespace convd::cpu
