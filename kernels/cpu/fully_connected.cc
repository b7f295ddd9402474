// Fully connected layer: GEMM against the [out, in] weight matrix, with
// output features split across threads (each slice is its own GEMM) so
// batch 1, the common serving case, still uses every core. At batch 1 the
// slice is a matrix-vector product (Sgemv): the layer is bound by reading
// its weights, and a GEMM with one row packs them first (2.7x slower on
// AlexNet's fc6, bench/RESULTS.md).
#include <algorithm>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/work_estimate.h"
#include "kernels/epilogue_inl.h"

namespace convd::cpu {

void FullyConnected(const FullyConnectedParams& p, const float* input,
                    const float* weights, const Epilogue& epilogue,
                    float* output, ThreadPool* pool) {
  constexpr int kFeaturesPerTask = 128;
  const int tasks = (p.out_features + kFeaturesPerTask - 1) / kFeaturesPerTask;
  const int64_t work_per_task = int64_t{p.n} * kFeaturesPerTask * p.in_features / kGemmMacsPerNs;
  ParallelFor(pool, tasks, work_per_task, [&](int64_t begin, int64_t end, int) {
    const int o_begin = static_cast<int>(begin) * kFeaturesPerTask;
    const int o_end = std::min(p.out_features, static_cast<int>(end) * kFeaturesPerTask);
    const int width = o_end - o_begin;
    const float* slice = weights + int64_t{o_begin} * p.in_features;
    if (p.n == 1) {
      Sgemv(width, p.in_features, 1.0f, slice, p.in_features, input, 0.0f, output + o_begin);
    } else {
      Sgemm(false, true, p.n, width, p.in_features, 1.0f, input, p.in_features, slice,
            p.in_features, 0.0f, output + o_begin, p.out_features);
    }
    for (int n = 0; n < p.n; ++n) {
      for (int o = o_begin; o < o_end; ++o) {
        const int64_t index = int64_t{n} * p.out_features + o;
        ApplyEpilogue(epilogue, o, output + index,
                      epilogue.residual ? epilogue.residual + index : nullptr, 1);
      }
    }
  });
}

}  // namespace convd::cpu
