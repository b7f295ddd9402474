// im2col + GEMM. Per (image, group, block of output columns) a task unrolls
// the input patches into a [C/g*R*S, cols] matrix in its own workspace slot
// and multiplies it by the group's filters [K/g, C/g*R*S] (packed at load)
// with convd's own GEMM, which applies the epilogue as it stores:
//   out[K/g, cols] = epilogue(W[K/g, CRS] * col[CRS, cols])
// Column blocks bound the workspace and give both cores work even at batch 1.
// 1x1 stride-1 unpadded layers skip the unrolling: the input already is the
// column matrix.
#include <algorithm>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/packed_gemm.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/work_estimate.h"

namespace convd::cpu {
namespace {

bool IsPointwise(const ConvParams& p) {
  return p.r == 1 && p.s == 1 && p.stride_h == 1 && p.stride_w == 1 &&
         p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 &&
         p.pad_right == 0;
}

// How one (image, group) product is cut into tasks: its output columns
// into blocks of near-equal numbers of the GEMM's 16-column panels, and,
// where that leaves too few tasks, its filters (rows of the product) into
// blocks of whole 6-row panels too.
//  - A column block unrolls at most about 2 MiB of patches (one workspace
//    slot).
//  - When the batch has too few (image, group) pairs to give each thread two
//    tasks, the plane is cut finer, down to 4 panels (64 columns) a block:
//    at batch 1, AlexNet's 13x13 layers were otherwise one task on one core.
//  - Below that the rows are cut: a 7x7 plane (49 columns, 4 panels, the
//    last one column wide) cut into 4 column blocks left one thread three
//    blocks' work and the other one column's (ResNet-50's 1x1 layers at
//    batch 1, bench/RESULTS.md "im2col's tasks"). A row block keeps 6 panels
//    (36 filters) or more, since each one unrolls its column block again.
// The column blocks never widen as `threads` grows, so a workspace sized
// for more threads always suffices.
struct TaskGrid {
  int column_blocks = 1;
  int row_blocks = 1;
  int64_t plane_panels = 1;  // 16-column panels of the plane, the last maybe partial
  int filter_panels = 1;     // 6-row panels of the group's filters, the last maybe partial

  // Output columns [begin, end) of column block `block`: whole panels,
  // near-equal numbers of them.
  int ColumnBegin(const ConvParams& p, int block) const {
    return static_cast<int>(
        std::min<int64_t>(int64_t{p.p} * p.q, block * plane_panels / column_blocks * 16));
  }
  // Filters [begin, end) of row block `block`, likewise in whole panels.
  int RowBegin(const ConvParams& p, int block) const {
    return std::min(p.k_per_group(), static_cast<int>(int64_t{block} * filter_panels / row_blocks) *
                                         kPackedGemmRows);
  }
  // The widest column block: what a workspace slot unrolls.
  int MaxColumns(const ConvParams& p) const {
    return static_cast<int>(std::min<int64_t>(
        int64_t{p.p} * p.q, (plane_panels + column_blocks - 1) / column_blocks * 16));
  }
};

TaskGrid GridFor(const ConvParams& p, int threads) {
  constexpr int64_t kPanel = kPackedGemmColumns;
  constexpr int64_t kMinPanelsPerBlock = 4;
  constexpr int kMinFilterPanelsPerBlock = 6;
  TaskGrid grid;
  const int64_t crs = int64_t{p.c_per_group()} * p.r * p.s;
  grid.plane_panels = (int64_t{p.p} * p.q + kPanel - 1) / kPanel;
  grid.filter_panels = (p.k_per_group() + kPackedGemmRows - 1) / kPackedGemmRows;
  // At least 2 panels' worth of patches a slot, at most about 2 MiB.
  const int64_t slot_panels = std::max<int64_t>((int64_t{1} << 19) / crs / kPanel, 2);
  const int64_t blocks_for_slot = (grid.plane_panels + slot_panels - 1) / slot_panels;
  const int64_t pairs = int64_t{p.n} * p.groups;
  const int64_t tasks_wanted = 2 * int64_t{threads};
  const int64_t blocks_wanted = (tasks_wanted + pairs - 1) / pairs;
  const int64_t blocks_of_min_width = std::max<int64_t>(grid.plane_panels / kMinPanelsPerBlock, 1);
  grid.column_blocks =
      static_cast<int>(std::max(blocks_for_slot, std::min(blocks_wanted, blocks_of_min_width)));
  const int64_t tasks = pairs * grid.column_blocks;
  if (tasks < tasks_wanted) {
    const int64_t row_blocks_wanted = (tasks_wanted + tasks - 1) / tasks;
    grid.row_blocks = static_cast<int>(std::clamp<int64_t>(
        row_blocks_wanted, 1, std::max(grid.filter_panels / kMinFilterPanelsPerBlock, 1)));
  }
  return grid;
}

// Unrolls output columns [col_begin, col_end) of one image and group. Each
// (c, r, s) row is filled one output row at a time: zeros where the tap
// reads padding, a copy (contiguous at stride 1) of the input row between;
// no per-element bounds checks or index arithmetic.
void Im2col(const ConvParams& p, const float* in, int col_begin, int col_end,
            float* col) {
  const int cols = col_end - col_begin;
  const int cg = p.c_per_group();
  for (int c = 0; c < cg; ++c) {
    const float* plane = in + int64_t{c} * p.h * p.w;
    for (int r = 0; r < p.r; ++r) {
      for (int s = 0; s < p.s; ++s) {
        float* row = col + ((int64_t{c} * p.r + r) * p.s + s) * cols;
        const int iw_offset = s * p.dilation_w - p.pad_left;
        const ColumnRange inside = InsideColumns(iw_offset, p.stride_w, p.w, p.q);
        for (int column = col_begin; column < col_end;) {
          const int oh = column / p.q;
          const int ow_begin = column % p.q;
          const int ow_end = std::min(p.q, ow_begin + (col_end - column));
          float* dst = row + (column - col_begin);  // output column ow_begin
          const int ih = oh * p.stride_h - p.pad_top + r * p.dilation_h;
          if (ih < 0 || ih >= p.h) {
            std::fill(dst, dst + (ow_end - ow_begin), 0.0f);
          } else {
            const int lo = std::clamp(inside.begin, ow_begin, ow_end);
            const int hi = std::clamp(inside.end, lo, ow_end);
            std::fill(dst, dst + (lo - ow_begin), 0.0f);
            // Input column of output column ow: ow * stride + iw_offset.
            const float* src = plane + int64_t{ih} * p.w + (int64_t{lo} * p.stride_w + iw_offset);
            float* inside_dst = dst + (lo - ow_begin);
            if (p.stride_w == 1) {
              std::copy(src, src + (hi - lo), inside_dst);
            } else if (p.stride_w == 2) {
              // A constant stride: the compiler gathers 4 a time by shuffles.
              for (int i = 0; i < hi - lo; ++i) inside_dst[i] = src[2 * i];
            } else {
              for (int i = 0; i < hi - lo; ++i) inside_dst[i] = src[int64_t{i} * p.stride_w];
            }
            std::fill(dst + (hi - ow_begin), dst + (ow_end - ow_begin), 0.0f);
          }
          column += ow_end - ow_begin;
        }
      }
    }
  }
}

int64_t UnrolledFloats(const ConvParams& p, int threads) {
  if (IsPointwise(p)) return 0;
  return int64_t{p.c_per_group()} * p.r * p.s * GridFor(p, threads).MaxColumns(p);
}

// One thread's workspace: the GEMM's, then the unrolled patches.
int64_t SlotFloats(const ConvParams& p, int threads) {
  return PackedGemmWorkspaceFloats() + UnrolledFloats(p, threads);
}

class Im2colGemmAlgorithm final : public ConvAlgorithm {
 public:
  std::string_view name() const override { return "im2col"; }

  absl::Status CanImplement(const ConvParams&) const override {
    return absl::OkStatus();
  }

  // Per thread: the GEMM's block of B, then the unrolled patches.
  int64_t WorkspaceBytes(const ConvParams& p, int threads) const override {
    return int64_t{threads} * SlotFloats(p, threads) * int64_t{sizeof(float)};
  }

  // Each group's filters, packed for PackedGemm one after the other.
  absl::StatusOr<PackedWeights> PrepareWeights(const ConvParams& p,
                                               const float* weights) const override {
    const int kg = p.k_per_group(), crs = p.c_per_group() * p.r * p.s;
    const int64_t group_floats = PackedLeftOperandFloats(kg, crs);
    PackedWeights packed{AlignedBuffer(p.groups * group_floats)};
    for (int g = 0; g < p.groups; ++g) {
      PackGemmLeftOperand(weights + int64_t{g} * kg * crs, kg, crs, crs,
                          packed.data.data() + g * group_floats);
    }
    return packed;
  }

  absl::Status Run(const ConvArgs& args, const ExecContext& context) const override {
    const ConvParams& p = args.params;
    const int cg = p.c_per_group(), kg = p.k_per_group();
    const int crs = cg * p.r * p.s;
    const int plane = p.p * p.q;
    // The thread count WorkspaceBytes was given (ConvArgs::workspace).
    const int threads = context.thread_pool ? context.thread_pool->num_threads() : 1;
    const TaskGrid grid = GridFor(p, threads);
    const bool pointwise = IsPointwise(p);
    const int64_t slot_floats = SlotFloats(p, threads);
    const int64_t group_weight_floats = PackedLeftOperandFloats(kg, crs);
    const int blocks = grid.column_blocks * grid.row_blocks;
    // A task unrolls crs x columns values and multiplies them by its filters.
    const int64_t columns = grid.MaxColumns(p);
    const int64_t work_per_task = int64_t{kg} / grid.row_blocks * crs * columns / kGemmMacsPerNs +
                                  (pointwise ? 0 : int64_t{crs} * columns / kCopiedFloatsPerNs);
    ParallelFor(context.thread_pool, int64_t{p.n} * p.groups * blocks, work_per_task,
                [&](int64_t begin, int64_t end, int slot) {
      for (int64_t task = begin; task < end; ++task) {
        const int block = static_cast<int>(task % blocks);
        const int column_block = block / grid.row_blocks, row_block = block % grid.row_blocks;
        const int g = static_cast<int>(task / blocks % p.groups);
        const int n = static_cast<int>(task / blocks / p.groups);
        const int col_begin = grid.ColumnBegin(p, column_block);
        const int col_end = grid.ColumnBegin(p, column_block + 1);
        const int row_begin = grid.RowBegin(p, row_block);
        const int rows = grid.RowBegin(p, row_block + 1) - row_begin;
        const int cols = col_end - col_begin;
        if (cols <= 0 || rows <= 0) continue;
        const float* in = args.input + (int64_t{n} * p.c + int64_t{g} * cg) * p.h * p.w;
        float* gemm_workspace = args.workspace + slot * slot_floats;
        const float* b;
        int ldb;
        if (pointwise) {
          b = in + col_begin;
          ldb = plane;
        } else {
          float* col = gemm_workspace + PackedGemmWorkspaceFloats();
          Im2col(p, in, col_begin, col_end, col);
          b = col;
          ldb = cols;
        }
        const int first_channel = g * kg + row_begin;
        const int64_t out_offset = (int64_t{n} * p.k + first_channel) * plane + col_begin;
        const float* residual =
            args.epilogue.residual ? args.epilogue.residual + out_offset : nullptr;
        // Rows from a panel boundary on are the packed operand from
        // row_begin * crs (PackGemmLeftOperand).
        PackedGemm(rows, cols, crs,
                   args.weights->data.data() + g * group_weight_floats + int64_t{row_begin} * crs,
                   b, ldb, args.output + out_offset, plane,
                   {&args.epilogue, first_channel, residual}, gemm_workspace);
      }
    });
    return absl::OkStatus();
  }
};

}  // namespace

const ConvAlgorithm& Im2colGemmConv() {
  static const Im2colGemmAlgorithm algorithm;
  return algorithm;
}

}  // namespace convd::cpu
