// Direct convolution's row loops (conv_direct.h): a vector holds
// neighbouring outputs of one row of one filter (4, 8 or 16: RowLanes),
// for layers of stride 1x1, where those outputs read neighbouring inputs.
// Each tap is one unaligned load per vector of outputs, shared by a few
// filters, each filter's weight a broadcast (kFilters x kVectors
// accumulators); outputs are stored a vector at a time, straight into
// their NCHW rows.
//
// The filter loops store every output as a float of its own (a vector
// holds filters, the planes want rows), which costs as much as the
// multiply-adds where a layer has few taps per output (VGG's 3-channel
// conv1_1: 27; LeNet's conv1: 25). The row loops' cost is a row's last
// vector, whose lanes past the row's end are computed and dropped: their
// loads read into the next row, or the slack after the copied planes, so
// every load is a whole vector with no bounds checks. The plane's vectors
// are taken kVectors at a time in order, across rows, so that planes
// narrower than kVectors vectors (13x13, 14x14) fill the registers too.
//
// The taps of all the group's channels are one loop over a table of input
// offsets (c, r, s in the packed weights' order), built per task in the
// workspace slot: a loop over 3 or 5 taps of a row costs more per trip
// than its multiply-adds.
#include <cstdint>
#include <cstring>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/cpu_features.h"

namespace convd::cpu::direct {
namespace {

// Outputs a vector of each build holds.
constexpr int RowLanes(CpuBuild build) {
  return build == CpuBuild::kAvx512 ? 16 : build == CpuBuild::kAvx2 ? 8 : 4;
}

// Vectors of kVectorLanes floats, named by their lanes (a template
// argument would lose the typedefs' attributes).
template <int kVectorLanes>
struct RowVectors {
  typedef float Value __attribute__((vector_size(kVectorLanes * sizeof(float))));
  // Loads and stores anywhere in a row: aligned to a float only, and
  // aliasing the floats around it.
  typedef float Unaligned __attribute__((vector_size(kVectorLanes * sizeof(float)),
                                         aligned(alignof(float)), may_alias));
};

template <int kVectorLanes>
using RowVector = typename RowVectors<kVectorLanes>::Value;
template <int kVectorLanes>
using UnalignedRowVector = typename RowVectors<kVectorLanes>::Unaligned;

// What every group of a task's vectors reads.
struct RowTask {
  const float* in;       // the copied, padded input planes
  int64_t in_width;      // floats from one input row (and output row's inputs) to the next
  const int* offsets;    // [taps]: each tap's input offset from its output
  int taps;              // c_per_group * r * s
  const float* weights;  // the block's packed weights, [tap][block_filters]
  int block_filters;
  float* out;  // the block's first output plane
  int64_t out_plane;
  int q;              // outputs a row
  int row_vectors;    // vectors a row: q / kVectorLanes, rounded up
  const float* bias;  // the block's first filter's bias, or nullptr
  bool fuse_epilogue, relu;
};

// Vectors [first_vector, first_vector + kVectors) of the output plane, in
// order along each row and then down the rows (so a group may span two or
// more rows: narrow planes fill a group too), for filters [first_filter,
// first_filter + kFilters).
template <int kFilters, int kVectors, int kVectorLanes>
[[gnu::always_inline]] inline void VectorGroup(const RowTask& t, int first_filter,
                                               int first_vector) {
  using Vector = RowVector<kVectorLanes>;
  using Unaligned = UnalignedRowVector<kVectorLanes>;
  const float* x[kVectors];  // each vector's first input (tap 0)
  int64_t out[kVectors];     // and output, from the plane's start
  int lanes[kVectors];       // its outputs in the row
  bool whole[kVectors];      // whether a whole vector stored there stays in the plane
#pragma GCC unroll 4
  for (int v = 0; v < kVectors; ++v) {
    const int oh = (first_vector + v) / t.row_vectors;
    const int ow = (first_vector + v) % t.row_vectors * kVectorLanes;
    x[v] = t.in + oh * t.in_width + ow;
    out[v] = int64_t{oh} * t.q + ow;
    lanes[v] = std::min(kVectorLanes, t.q - ow);
    whole[v] = out[v] + kVectorLanes <= t.out_plane;
  }
  // Every loop over filters and vectors unrolled, so the accumulators
  // live in registers (-O2 leaves such loops rolled, and them in memory).
  Vector acc[kFilters][kVectors];
#pragma GCC unroll 8
  for (int f = 0; f < kFilters; ++f) {
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) acc[f][v] = Vector{};
  }
  const float* w = t.weights + first_filter;
  for (int tap = 0; tap < t.taps; ++tap) {
    const int offset = t.offsets[tap];
    Vector in[kVectors];
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) in[v] = *reinterpret_cast<const Unaligned*>(x[v] + offset);
    const float* wt = w + tap * t.block_filters;
#pragma GCC unroll 8
    for (int f = 0; f < kFilters; ++f) {
      const float weight = wt[f];
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) acc[f][v] += in[v] * weight;
    }
  }
  // Whole vectors are stored, also a row's last one: the lanes past the
  // row's end land on the next rows' first outputs, stored after it (by a
  // later vector of this group or a later group). Only a vector that would
  // reach past the plane goes to `partial`, and its outputs from there
  // after the group. (A memcpy of the accumulator's valid lanes instead
  // took its address, and that kept every accumulator in memory.)
  alignas(sizeof(Vector)) float partial[kFilters][kVectors][kVectorLanes];
#pragma GCC unroll 8
  for (int f = 0; f < kFilters; ++f) {
    float* plane = t.out + (first_filter + f) * t.out_plane;
    const float bias = t.bias != nullptr ? t.bias[first_filter + f] : 0.0f;
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) {
      Vector value = acc[f][v];
      if (t.fuse_epilogue) {
        value += bias;
        // As Activate: x > 0 ? x : 0 (NaN becomes 0).
        if (t.relu) value = value > 0.0f ? value : Vector{};
      }
      float* to = whole[v] ? plane + out[v] : partial[f][v];
      *reinterpret_cast<Unaligned*>(to) = value;
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < kVectors; ++v) {
    if (whole[v]) continue;
    for (int f = 0; f < kFilters; ++f) {
      std::memcpy(t.out + (first_filter + f) * t.out_plane + out[v], partial[f][v],
                  lanes[v] * sizeof(float));
    }
  }
}

// VectorGroup for the run-time `filters` (1 <= filters <= kFilters).
template <int kFilters, int kVectors, int kVectorLanes>
[[gnu::always_inline]] inline void GroupOfFilters(const RowTask& t, int first_filter, int filters,
                                                  int first_vector) {
  if constexpr (kFilters > 1) {
    if (filters < kFilters) {
      return GroupOfFilters<kFilters - 1, kVectors, kVectorLanes>(t, first_filter, filters,
                                                                  first_vector);
    }
  }
  VectorGroup<kFilters, kVectors, kVectorLanes>(t, first_filter, first_vector);
}

// GroupOfFilters for the run-time `vectors` (1 <= vectors <= kVectors).
template <int kFilters, int kVectors, int kVectorLanes>
[[gnu::always_inline]] inline void GroupOfVectors(const RowTask& t, int first_filter, int filters,
                                                  int first_vector, int vectors) {
  if constexpr (kVectors > 1) {
    if (vectors < kVectors) {
      return GroupOfVectors<kFilters, kVectors - 1, kVectorLanes>(t, first_filter, filters,
                                                                  first_vector, vectors);
    }
  }
  GroupOfFilters<kFilters, kVectors, kVectorLanes>(t, first_filter, filters, first_vector);
}

// One task: the output plane's vectors in groups of kVectors (the last
// smaller), each group for kFilters filters at a time.
template <int kFilters, int kVectors, int kVectorLanes>
[[gnu::always_inline]] inline void ComputeTask(const ConvArgs& args, const DirectTask& task,
                                               int* offsets) {
  const ConvParams& p = args.params;
  int taps = 0;
  for (int c = 0; c < p.c_per_group(); ++c) {
    for (int r = 0; r < p.r; ++r) {
      for (int s = 0; s < p.s; ++s) {
        offsets[taps++] = static_cast<int>(
            c * task.in_plane + int64_t{r} * p.dilation_h * task.in_width + s * p.dilation_w);
      }
    }
  }
  RowTask t;
  t.in = task.in;
  t.in_width = task.in_width;
  t.offsets = offsets;
  t.taps = taps;
  t.weights = task.weights;
  t.block_filters = FiltersPerBlock(p);
  t.out = task.out;
  t.out_plane = int64_t{p.p} * p.q;
  t.q = p.q;
  t.row_vectors = (p.q + kVectorLanes - 1) / kVectorLanes;
  t.bias = args.epilogue.bias != nullptr ? args.epilogue.bias + task.first_filter : nullptr;
  t.fuse_epilogue = FusesEpilogue(args.epilogue);
  t.relu = args.epilogue.activation.type == Activation::kRelu;
  const int plane_vectors = p.p * t.row_vectors;
  for (int first_vector = 0; first_vector < plane_vectors; first_vector += kVectors) {
    const int vectors = std::min(kVectors, plane_vectors - first_vector);
    for (int first_filter = 0; first_filter < task.filters; first_filter += kFilters) {
      GroupOfVectors<kFilters, kVectors, kVectorLanes>(
          t, first_filter, std::min(kFilters, task.filters - first_filter), first_vector, vectors);
    }
  }
}

template <int kFilters, int kVectors, int kVectorLanes>
[[gnu::always_inline]] inline void RunTasks(const ConvArgs& args, int64_t begin, int64_t end,
                                            int slot) {
  const ConvParams& p = args.params;
  // The offsets follow the copied planes and their slack in the slot.
  int* offsets = reinterpret_cast<int*>(args.workspace + slot * SlotFloats(p) +
                                        (SlotFloats(p) - int64_t{p.c_per_group()} * p.r * p.s));
  ForEachDirectTask(
      args, DirectLoops::kRows, begin, end,
      slot, [&](const DirectTask& task) __attribute__((always_inline)) {
        ComputeTask<kFilters, kVectors, kVectorLanes>(args, task, offsets);
      });
}

// SSE: 16 registers of 4 floats: 12 accumulators (4 filters x 3 vectors),
// the 3 vectors of inputs and a broadcast weight.
void RunTasksBaseline(const ConvArgs& args, int64_t begin, int64_t end, int slot) {
  RunTasks<4, 3, RowLanes(CpuBuild::kBaseline)>(args, begin, end, slot);
}

// AVX2: as SSE, 8 floats a register. fp-contract=fast lets the compiler
// fuse acc + in * weight into one FMA.
[[gnu::target("avx2,fma"), gnu::optimize("fp-contract=fast")]] void RunTasksAvx2(
    const ConvArgs& args, int64_t begin, int64_t end, int slot) {
  RunTasks<4, 3, RowLanes(CpuBuild::kAvx2)>(args, begin, end, slot);
}

// AVX-512: 32 registers of 16 floats: 24 accumulators (8 filters x 3
// vectors), 3 of inputs; the weights are broadcast from memory by the FMAs.
[[gnu::target("avx512f,avx2,fma"), gnu::optimize("fp-contract=fast")]] void RunTasksAvx512(
    const ConvArgs& args, int64_t begin, int64_t end, int slot) {
  RunTasks<8, 3, RowLanes(CpuBuild::kAvx512)>(args, begin, end, slot);
}

}  // namespace

// Measured on AVX-512 (bench/RESULTS.md, 2026-12-06 (night)), the row
// loops over the filter loops by the share of lanes a layer's rows use:
// 0.81-1.0 (rows 13 to 224 wide) 1.04-3.6x, all but GoogLeNet's 4a at
// batch 1 (0.83x), LeNet's conv1 (25 taps an output) the most; 0.625
// (LeNet's conv2, 10 wide) 0.69-0.75x; 0.44 (7 wide) 0.53-0.84x.
constexpr double kRowLoopsMinLaneShare = 0.75;

DirectLoops ChooseDirectLoops(const ConvParams& p, CpuBuild build) {
  if (!RowLoopsCanRun(p)) return DirectLoops::kFilters;
  const int lanes = RowLanes(build);
  const int row_vectors = (p.q + lanes - 1) / lanes;
  const double lane_share = static_cast<double>(p.q) / (row_vectors * lanes);
  return lane_share >= kRowLoopsMinLaneShare ? DirectLoops::kRows : DirectLoops::kFilters;
}

void RunRowTasks(CpuBuild build, const ConvArgs& args, int64_t begin, int64_t end, int slot) {
  CallBuild(build, RunTasksBaseline, RunTasksAvx2, RunTasksAvx512, args, begin, end, slot);
}

}  // namespace convd::cpu::direct
