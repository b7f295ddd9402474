// Direct convolution's two loop orders, shared between conv_direct.cc (the
// algorithm, and the loops that vectorize over filters) and
// conv_direct_rows.cc (the loops that vectorize over an output row). Not a
// public header: the algorithm is reached through conv_algorithms.h.
//
// Both work on the same tasks, (image, group, block of filters), and the
// same packed weights: W[group][filter block][c][r][s][filters of the
// block], zero-padded to FiltersPerBlock filters. A task's input planes
// are copied, with their zero padding and kRowSlack floats after them, into
// the task's workspace slot where the loops need it (NeedsInputCopy).
#ifndef CONVD_KERNELS_CPU_CONV_DIRECT_H_
#define CONVD_KERNELS_CPU_CONV_DIRECT_H_

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/epilogue_inl.h"

namespace convd::cpu::direct {

// The filter loops' vector: 8 filters (two SSE registers, one AVX2 one;
// the AVX-512 build takes two of them, 16 filters, as one register).
constexpr int kLanes = 8;

// Floats after a task's copied input planes that the row loops may read
// (and then discard): a row's last vector of outputs reads up to one
// AVX-512 vector past the row's end.
constexpr int kRowSlack = 16;

inline bool HasPadding(const ConvParams& p) {
  return p.pad_top != 0 || p.pad_left != 0 || p.pad_bottom != 0 || p.pad_right != 0;
}

// The padded input plane's size.
inline int PaddedHeight(const ConvParams& p) { return p.h + p.pad_top + p.pad_bottom; }
inline int PaddedWidth(const ConvParams& p) { return p.w + p.pad_left + p.pad_right; }

// Filter vectors per block: two where the group has more than one
// vector's worth of filters (each broadcast input value then feeds two
// multiply-adds), else one.
inline int VectorsPerBlock(const ConvParams& p) { return p.k_per_group() > kLanes ? 2 : 1; }
inline int FiltersPerBlock(const ConvParams& p) { return VectorsPerBlock(p) * kLanes; }
inline int FilterBlocks(const ConvParams& p) {
  return (p.k_per_group() + FiltersPerBlock(p) - 1) / FiltersPerBlock(p);
}

// Whether the row loops can compute `p`: its outputs along a row must read
// neighbouring inputs, and its rows neighbouring rows.
inline bool RowLoopsCanRun(const ConvParams& p) { return p.stride_h == 1 && p.stride_w == 1; }

// The loops DirectConv runs for `p` in `build`: the row loops on stride-1
// layers where a row's last vector wastes few lanes, else the filter
// loops.
DirectLoops ChooseDirectLoops(const ConvParams& p, CpuBuild build);

// Whether a task's input planes are copied into its workspace slot: the
// row loops always (they read past a row's end), the filter loops where
// the layer has padding.
inline bool NeedsInputCopy(const ConvParams& p, DirectLoops loops) {
  return loops == DirectLoops::kRows || HasPadding(p);
}

// Floats of one workspace slot: the copied planes and their slack, then
// the row loops' tap offsets (ints).
inline int64_t SlotFloats(const ConvParams& p) {
  return int64_t{p.c_per_group()} * PaddedHeight(p) * PaddedWidth(p) + kRowSlack +
         int64_t{p.c_per_group()} * p.r * p.s;
}

// One task's operands.
struct DirectTask {
  const float* in;       // the group's input planes (copied, or the input)
  int64_t in_plane;      // floats from one input channel to the next
  int in_width;          // floats from one input row to the next
  const float* weights;  // the block's packed weights, [c][r][s][FiltersPerBlock]
  float* out;            // the block's first output plane
  int filters;           // the block's filters (<= FiltersPerBlock)
  int first_filter;      // the block's first filter in the layer (bias)
};

// Bias and ReLU (or none) are applied by the loops as outputs are stored; a
// residual or another activation, over the planes after a task (per value
// in the store loops, those made LeNet's layers slower).
inline bool FusesEpilogue(const Epilogue& epilogue) {
  const Activation activation = epilogue.activation.type;
  return epilogue.residual == nullptr &&
         (activation == Activation::kNone || activation == Activation::kRelu);
}

// Calls compute(task) for tasks [begin, end) of (image, group, filter
// block) in workspace slot `slot`, then applies the epilogue where the
// loops did not. Inline so each build's loops are compiled into it.
template <typename Compute>
[[gnu::always_inline]] inline void ForEachDirectTask(const ConvArgs& args, DirectLoops loops,
                                                     int64_t begin, int64_t end, int slot,
                                                     Compute&& compute) {
  const ConvParams& p = args.params;
  const int cg = p.c_per_group(), kg = p.k_per_group(), blocks = FilterBlocks(p);
  const int block_filters = FiltersPerBlock(p);
  const bool copy_input = NeedsInputCopy(p, loops);
  const int in_height = copy_input ? PaddedHeight(p) : p.h;
  const int in_width = copy_input ? PaddedWidth(p) : p.w;
  const int64_t in_plane = int64_t{in_height} * in_width;
  const int64_t out_plane = int64_t{p.p} * p.q;
  // The (image, group) whose planes the slot holds: a run of tasks over
  // one image's filter blocks copies them once, not once a block (AlexNet's
  // conv1: a 624 KB copy for each of 4 blocks).
  int64_t copied_planes = -1;
  for (int64_t task = begin; task < end; ++task) {
    const int block = static_cast<int>(task % blocks);
    const int64_t planes = task / blocks;  // image * groups + group
    const int g = static_cast<int>(planes % p.groups);
    const int n = static_cast<int>(planes / p.groups);
    const float* input = args.input + (int64_t{n} * p.c + int64_t{g} * cg) * p.h * p.w;
    const float* in = input;
    if (copy_input) {
      float* copy = args.workspace + slot * SlotFloats(p);
      if (planes != copied_planes) {
        std::fill_n(copy, cg * in_plane + kRowSlack, 0.0f);
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
    const int first_filter = block * block_filters;
    DirectTask t;
    t.in = in;
    t.in_plane = in_plane;
    t.in_width = in_width;
    t.weights =
        args.weights->data.data() + (int64_t{g} * blocks + block) * cg * p.r * p.s * block_filters;
    t.out = args.output + (int64_t{n} * p.k + int64_t{g} * kg + first_filter) * out_plane;
    t.filters = std::min(block_filters, kg - first_filter);
    t.first_filter = g * kg + first_filter;
    compute(t);
    for (int f = 0; f < t.filters && !FusesEpilogue(args.epilogue); ++f) {
      const int64_t offset = (t.out - args.output) + f * out_plane;
      ApplyEpilogue(args.epilogue, t.first_filter + f, args.output + offset,
                    args.epilogue.residual ? args.epilogue.residual + offset : nullptr, out_plane);
    }
  }
}

// The row loops over tasks [begin, end) in `build` (which the CPU runs).
// The layer's stride must be 1x1.
void RunRowTasks(CpuBuild build, const ConvArgs& args, int64_t begin, int64_t end, int slot);

}  // namespace convd::cpu::direct

#endif  // CONVD_KERNELS_CPU_CONV_DIRECT_H_
