// Fully connected layer: GEMM against the [out, in] weight matrix, with
// output features split across threads (each slice is its own GEMM) so
// batch 1, the common serving case, still uses every core. At batch 1 the
// slice is a matrix-vector product (gemv.h): the layer is bound by reading
// its weights, and a GEMM with one row packs them first (2.7x slower on
// AlexNet's fc6, bench/RESULTS.md). At larger batches the weights are the
// left operand of convd's own GEMM, [features, in] x [in, N], read in
// place (RowMajorGemmPackedRight: packing them would copy 151 MB for fc6
// on every call), with the input packed once as the right operand: each
// task writes its slice transposed into its workspace slot with the
// epilogue (a feature's N values share its bias) and copies it into the
// output. bench/RESULTS.md, "Fully connected layers at batch 2+".
//
// Weights stored as halves: up to kGemvMaxBatch images GemvHalf widens
// them as it reads them, once for all the images; at larger batches a
// task widens kWidenedRows of its features at a time into its workspace
// slot (a block that stays in L2) and multiplies that block, so memory
// still delivers half the bytes. (On floats, the GEMM beat the batched
// GEMV from batch 4 on AlexNet's layers, level at 2; on halves the GEMV
// won at 2-8: bench/RESULTS.md, "FP16 fully connected weights".)
#include <algorithm>

#include "kernels/cpu/gemv.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/packed_gemm.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/work_estimate.h"
#include "kernels/epilogue_inl.h"

namespace convd::cpu {
namespace {

// Float weights up to this size are read from cache at batch 2+ (L2
// holds them): there the GEMM's cost is its arithmetic, and it pads the
// batch to its 16-column panels and packs the input first.
constexpr int64_t kGemvCachedWeightBytes = int64_t{1} << 20;

// Whether the layer runs as matrix-vector products, each weight read once
// for the batch (gemv.h), rather than the GEMM. On floats (bench/
// RESULTS.md, "Fully connected layers at batches 2-8 as products of
// vectors"): at batch 2 for any layer (AlexNet's fc6-fc8 0.93-0.99x the
// GEMM's time but for one fc8 at 1.06x), at 3-8 where the weights are in
// cache (LeNet-5's fc layers at 2-8: 0.4-0.8x); AlexNet's, read from
// memory, keep the GEMM from batch 4, where its six weight streams read
// faster.
bool RunsAsGemv(const FullyConnectedParams& p, bool halves) {
  if (p.n == 1) return true;
  if (p.n > kGemvMaxBatch) return false;
  const int64_t weight_bytes = int64_t{p.out_features} * p.in_features * int64_t{sizeof(float)};
  return halves || p.n <= 2 || weight_bytes <= kGemvCachedWeightBytes;
}

// Output features per task: 128 for matrix-vector products; for the GEMM
// up to 512 (OpenBLAS's best slice for fc6 on the 2-core VM), but at least
// two tasks per thread, and never below 128. Non-increasing in `threads`.
int FeaturesPerTask(const FullyConnectedParams& p, int threads, bool halves) {
  constexpr int kMin = 128, kMax = 512;
  if (RunsAsGemv(p, halves)) return kMin;
  const int share = (p.out_features + 2 * threads - 1) / (2 * threads);
  return std::clamp((share + 15) / 16 * 16, kMin, kMax);
}

// Features widened from halves at a time, at batch 2+: a multiple of the
// GEMM's panel rows; 24 of AlexNet's fc6 rows are 864 KB as floats, which
// stay in L2.
constexpr int kWidenedRows = 4 * kPackedGemmRows;

// Batch 2+, the workspace: the input packed once as the product's right
// operand, then per thread a transposed output slice and, for halves, a
// block of widened weights.
int64_t PackedInputFloats(const FullyConnectedParams& p) {
  return PackedRightOperandFloats(p.n, p.in_features);
}
int64_t SliceFloats(const FullyConnectedParams& p, int threads, bool halves) {
  return int64_t{std::min(FeaturesPerTask(p, threads, halves), p.out_features)} * p.n;
}
int64_t SlotFloats(const FullyConnectedParams& p, int threads, bool halves) {
  return SliceFloats(p, threads, halves) +
         (halves ? int64_t{std::min(kWidenedRows, p.out_features)} * p.in_features : 0);
}

}  // namespace

int64_t FullyConnectedWorkspaceFloats(const FullyConnectedParams& p, int threads, bool halves) {
  if (RunsAsGemv(p, halves)) return 0;
  return PackedInputFloats(p) + threads * SlotFloats(p, threads, halves);
}

void FullyConnected(const FullyConnectedParams& p, const float* input,
                    const FullyConnectedWeights& weights, const Epilogue& epilogue, float* output,
                    float* workspace, ThreadPool* pool) {
  const int threads = pool ? pool->num_threads() : 1;
  const bool halves = weights.halves != nullptr;
  const int features_per_task = FeaturesPerTask(p, threads, halves);
  const bool as_gemv = RunsAsGemv(p, halves);
  const int64_t packed_input_floats = as_gemv ? 0 : PackedInputFloats(p);
  const int64_t slot_floats = as_gemv ? 0 : SlotFloats(p, threads, halves);
  if (!as_gemv) {
    PackGemmRightOperandTransposed(input, p.n, p.in_features, p.in_features, workspace);
  }
  const int tasks = (p.out_features + features_per_task - 1) / features_per_task;
  const int64_t work_per_task = int64_t{p.n} * features_per_task * p.in_features / kGemmMacsPerNs;
  ParallelFor(pool, tasks, work_per_task, [&](int64_t begin, int64_t end, int slot) {
    for (int64_t task = begin; task < end; ++task) {
      const int o_begin = static_cast<int>(task) * features_per_task;
      const int o_end = std::min(p.out_features, o_begin + features_per_task);
      const int width = o_end - o_begin;
      const int64_t slice_offset = int64_t{o_begin} * p.in_features;
      if (as_gemv) {
        if (halves) {
          GemvHalf(width, p.in_features, weights.halves + slice_offset, p.in_features, p.n, input,
                   p.in_features, output + o_begin, p.out_features);
        } else {
          Gemv(width, p.in_features, weights.floats + slice_offset, p.in_features, p.n, input,
               p.in_features, output + o_begin, p.out_features);
        }
        for (int n = 0; n < p.n; ++n) {
          for (int o = o_begin; o < o_end; ++o) {
            const int64_t index = int64_t{n} * p.out_features + o;
            ApplyEpilogue(epilogue, o, output + index,
                          epilogue.residual ? epilogue.residual + index : nullptr, 1);
          }
        }
        continue;
      }
      // transposed[j][n]: feature o_begin + j of image n.
      float* transposed = workspace + packed_input_floats + slot * slot_floats;
      // The epilogue as the product is stored, unless there is a residual
      // (laid out [N, features], it is added after the transpose).
      const Epilogue* stored_epilogue = epilogue.residual == nullptr ? &epilogue : nullptr;
      // Floats in one product over the slice; halves a block at a time,
      // each widened into the slot first.
      float* widened = transposed + SliceFloats(p, threads, halves);
      const int block_rows = halves ? kWidenedRows : width;
      for (int j = 0; j < width; j += block_rows) {
        const int rows = std::min(block_rows, width - j);
        const int64_t block_offset = slice_offset + int64_t{j} * p.in_features;
        if (halves) {
          WidenHalves(weights.halves + block_offset, int64_t{rows} * p.in_features, widened);
        }
        RowMajorGemmPackedRight(rows, p.n, p.in_features,
                                halves ? widened : weights.floats + block_offset, p.in_features,
                                workspace, transposed + int64_t{j} * p.n, p.n,
                                {stored_epilogue, o_begin + j, nullptr});
      }
      for (int n = 0; n < p.n; ++n) {
        float* row = output + int64_t{n} * p.out_features;
        for (int j = 0; j < width; ++j) row[o_begin + j] = transposed[int64_t{j} * p.n + n];
        if (epilogue.residual == nullptr) continue;
        for (int o = o_begin; o < o_end; ++o) {
          const int64_t index = int64_t{n} * p.out_features + o;
          ApplyEpilogue(epilogue, o, output + index, epilogue.residual + index, 1);
        }
      }
    }
  });
}

}  // namespace convd::cpu
