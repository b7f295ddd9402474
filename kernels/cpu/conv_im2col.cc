// im2col + GEMM. Per (image, group, block of output columns) a task unrolls
// the input patches into a [C/g*R*S, cols] matrix in its own workspace slot
// (im2col_unroll.h: into the GEMM's panels where that is faster, else
// row-major) and multiplies it by the group's filters [K/g, C/g*R*S]
// (packed at load) with convd's own GEMM, which applies the epilogue as it
// stores:
//   out[K/g, cols] = epilogue(W[K/g, CRS] * col[CRS, cols])
// Column blocks bound the workspace and give both cores work even at batch 1.
// 1x1 stride-1 unpadded layers skip the unrolling: the input already is the
// column matrix.
#include <algorithm>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/im2col_unroll.h"
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
//  - Last, a few tasks that the threads cannot share evenly are made a
//    multiple of them (GoogLeNet's 5x5 layers at batch 1: 3 tasks on 2
//    threads, bench/RESULTS.md "im2col unrolls into the GEMM's panels").
// The grid depends on `threads`: Run and WorkspaceBytes cut with the same
// count (the pool's), so each slot holds what its tasks unroll.
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
  // A few equal tasks that the threads cannot share evenly (3 on 2
  // threads: one thread runs two while the other waits) take as long as
  // twice as many. Fewer row blocks, else more (narrower) column blocks,
  // make the count a multiple of the threads where that is a small step.
  auto total = [&] { return pairs * grid.column_blocks * grid.row_blocks; };
  if (total() > threads && total() < 2 * tasks_wanted && total() % threads != 0) {
    while (grid.row_blocks > 1 && total() % threads != 0) --grid.row_blocks;
    while (total() % threads != 0 && grid.column_blocks < grid.plane_panels) ++grid.column_blocks;
  }
  return grid;
}

// How a layer's column matrix is made: a 1x1 stride-1 layer's is its input
// plane as it is (the GEMM packs it a block at a time); others unroll it,
// into the GEMM's panels or row-major (UnrollsIntoPanels).
enum class Unrolling { kNone, kRowMajor, kIntoPanels };

Unrolling UnrollingFor(const ConvParams& p) {
  if (IsPointwise(p)) return Unrolling::kNone;
  return UnrollsIntoPanels(p) ? Unrolling::kIntoPanels : Unrolling::kRowMajor;
}

// One thread's workspace: what the layer's unrolling writes (the panels
// and their plan, or the rows), and the GEMM's block where it packs B.
struct Slot {
  int64_t unrolled_floats = 0;  // 64-byte multiple
  int64_t plan_floats = 0;
  int64_t gemm_floats = 0;
  int64_t floats() const { return unrolled_floats + plan_floats + gemm_floats; }
};

Slot SlotFor(const ConvParams& p, const TaskGrid& grid) {
  Slot slot;
  const int crs = p.c_per_group() * p.r * p.s;
  const int columns = grid.MaxColumns(p);
  switch (UnrollingFor(p)) {
    case Unrolling::kNone:
      slot.gemm_floats = PackedGemmWorkspaceFloats();
      break;
    case Unrolling::kIntoPanels:
      slot.unrolled_floats = (PackedRightOperandFloats(columns, crs) + 15) / 16 * 16;
      slot.plan_floats = UnrollPlanFloats(p, columns);
      break;
    case Unrolling::kRowMajor:
      slot.unrolled_floats = (int64_t{crs} * columns + 15) / 16 * 16;
      slot.gemm_floats = PackedGemmWorkspaceFloats();
      break;
  }
  return slot;
}

class Im2colGemmAlgorithm final : public ConvAlgorithm {
 public:
  explicit Im2colGemmAlgorithm(CpuBuild build) : build_(build) {}

  std::string_view name() const override { return "im2col"; }

  absl::Status CanImplement(const ConvParams&) const override {
    return absl::OkStatus();
  }

  int64_t WorkspaceBytes(const ConvParams& p, int threads) const override {
    return int64_t{threads} * SlotFor(p, GridFor(p, threads)).floats() * int64_t{sizeof(float)};
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
    const Unrolling unrolling = UnrollingFor(p);
    const Slot slot_layout = SlotFor(p, grid);
    const int64_t group_weight_floats = PackedLeftOperandFloats(kg, crs);
    const int blocks = grid.column_blocks * grid.row_blocks;
    // A task unrolls crs x columns values and multiplies them by its filters.
    const int64_t columns = grid.MaxColumns(p);
    const int64_t work_per_task =
        int64_t{kg} / grid.row_blocks * crs * columns / kGemmMacsPerNs +
        (unrolling == Unrolling::kNone ? 0 : int64_t{crs} * columns / kCopiedFloatsPerNs);
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
        // The slot: unrolled columns, then the plan or the GEMM's workspace.
        float* unrolled = args.workspace + slot * slot_layout.floats();
        float* after_unrolled = unrolled + slot_layout.unrolled_floats;
        const int first_channel = g * kg + row_begin;
        const int64_t out_offset = (int64_t{n} * p.k + first_channel) * plane + col_begin;
        const GemmEpilogue epilogue{
            &args.epilogue, first_channel,
            args.epilogue.residual ? args.epilogue.residual + out_offset : nullptr};
        // Rows from a panel boundary on are the packed operand from
        // row_begin * crs (PackGemmLeftOperand).
        const float* filters =
            args.weights->data.data() + g * group_weight_floats + int64_t{row_begin} * crs;
        float* out = args.output + out_offset;
        switch (unrolling) {
          case Unrolling::kNone:
            PackedGemm(rows, cols, crs, filters, in + col_begin, plane, out, plane, epilogue,
                       after_unrolled);
            break;
          case Unrolling::kIntoPanels:
            UnrollIntoPanels(build_, p, in, col_begin, col_end, after_unrolled, unrolled);
            PackedGemmPackedRight(rows, cols, crs, filters, unrolled, out, plane, epilogue);
            break;
          case Unrolling::kRowMajor:
            UnrollRowMajor(p, in, col_begin, col_end, unrolled);
            PackedGemm(rows, cols, crs, filters, unrolled, cols, out, plane, epilogue,
                       after_unrolled);
            break;
        }
      }
    });
    return absl::OkStatus();
  }

 private:
  const CpuBuild build_;  // UnrollIntoPanels's
};

}  // namespace

const ConvAlgorithm& Im2colGemmConv() {
  static const Im2colGemmAlgorithm algorithm(WidestCpuBuild());
  return algorithm;
}

const ConvAlgorithm& Im2colGemmConvForTesting(CpuBuild build) {
  // Indexed by CpuBuild, narrowest first.
  static const Im2colGemmAlgorithm builds[] = {Im2colGemmAlgorithm(CpuBuild::kBaseline),
                                               Im2colGemmAlgorithm(CpuBuild::kAvx2),
                                               Im2colGemmAlgorithm(CpuBuild::kAvx512)};
  return builds[static_cast<int>(build)];
}

}  // namespace convd::cpu
