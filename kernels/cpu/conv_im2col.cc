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

// Output columns per task: at most about 2 MiB of unrolled patches (one
// workspace slot) and at least 32, a multiple of 16 (the GEMM's width).
// When the batch has too few (image, group) pairs to give each thread two
// tasks, the plane is cut finer so that it does: at batch 1, AlexNet's
// 13x13 layers were otherwise one task on one core. Non-increasing in
// `threads`, so a workspace sized for more threads always suffices.
int ColumnsPerTask(const ConvParams& p, int threads) {
  const int64_t crs = int64_t{p.c_per_group()} * p.r * p.s;
  const int64_t plane = int64_t{p.p} * p.q;
  constexpr int64_t kMinColumns = 32;
  int64_t cols = std::max<int64_t>((int64_t{1} << 19) / crs / 16 * 16, kMinColumns);
  const int64_t pairs = int64_t{p.n} * p.groups;
  const int64_t tasks_wanted = 2 * int64_t{threads};
  if (pairs < tasks_wanted) {
    const int64_t blocks_per_plane = (tasks_wanted + pairs - 1) / pairs;
    const int64_t share = ((plane + blocks_per_plane - 1) / blocks_per_plane + 15) / 16 * 16;
    cols = std::min(cols, std::max(share, kMinColumns));
  }
  return static_cast<int>(std::min(cols, plane));
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
  return int64_t{p.c_per_group()} * p.r * p.s * ColumnsPerTask(p, threads);
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
    const int cols_per_task = ColumnsPerTask(p, threads);
    const int blocks = (plane + cols_per_task - 1) / cols_per_task;
    const bool pointwise = IsPointwise(p);
    const int64_t slot_floats = SlotFloats(p, threads);
    const int64_t group_weight_floats = PackedLeftOperandFloats(kg, crs);
    // A task unrolls crs x cols values and multiplies them by kg filters.
    const int64_t work_per_task =
        int64_t{kg} * crs * cols_per_task / kGemmMacsPerNs +
        (pointwise ? 0 : int64_t{crs} * cols_per_task / kCopiedFloatsPerNs);
    ParallelFor(context.thread_pool, int64_t{p.n} * p.groups * blocks, work_per_task,
                [&](int64_t begin, int64_t end, int slot) {
      for (int64_t task = begin; task < end; ++task) {
        const int block = static_cast<int>(task % blocks);
        const int g = static_cast<int>(task / blocks % p.groups);
        const int n = static_cast<int>(task / blocks / p.groups);
        const int col_begin = block * cols_per_task;
        const int col_end = std::min(plane, col_begin + cols_per_task);
        const int cols = col_end - col_begin;
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
        const int64_t out_offset = (int64_t{n} * p.k + int64_t{g} * kg) * plane + col_begin;
        const float* residual =
            args.epilogue.residual ? args.epilogue.residual + out_offset : nullptr;
        PackedGemm(kg, cols, crs, args.weights->data.data() + g * group_weight_floats, b, ldb,
                   args.output + out_offset, plane, {&args.epilogue, g * kg, residual},
                   gemm_workspace);
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
