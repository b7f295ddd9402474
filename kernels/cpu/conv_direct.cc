// Direct convolution: one task per (image, output channel) accumulates the
// whole output plane, walking filter taps in the outer loops so the inner
// loop runs along an output row (contiguous for stride 1, vectorised).
// Needs no workspace and no weight transform: best for tiny layers where
// im2col's copy and GEMM's packing cost more than the arithmetic.
#include <algorithm>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/epilogue_inl.h"

namespace convd::cpu {
namespace {

class DirectConvAlgorithm final : public ConvAlgorithm {
 public:
  std::string_view name() const override { return "direct"; }

  absl::Status CanImplement(const ConvParams&) const override {
    return absl::OkStatus();
  }

  int64_t WorkspaceBytes(const ConvParams&, int) const override { return 0; }

  absl::StatusOr<PackedWeights> PrepareWeights(const ConvParams& params,
                                               const float* weights) const override {
    return PlainWeights(params, weights);
  }

  absl::Status Run(const ConvArgs& args, const ExecContext& context) const override {
    const ConvParams& p = args.params;
    const int cg = p.c_per_group(), kg = p.k_per_group();
    const int64_t plane = int64_t{p.p} * p.q;
    const float* weights = args.weights->data.data();
    const int64_t work_per_task = plane * cg * p.r * p.s;
    ParallelFor(context.thread_pool, int64_t{p.n} * p.k, work_per_task,
                [&](int64_t begin, int64_t end, int) {
      for (int64_t task = begin; task < end; ++task) {
        const int n = static_cast<int>(task / p.k);
        const int k = static_cast<int>(task % p.k);
        const int g = k / kg;
        float* out = args.output + task * plane;
        std::fill(out, out + plane, 0.0f);
        for (int c = 0; c < cg; ++c) {
          const float* in = args.input + (int64_t{n} * p.c + g * cg + c) * p.h * p.w;
          const float* w = weights + (int64_t{k} * cg + c) * p.r * p.s;
          for (int r = 0; r < p.r; ++r) {
            for (int s = 0; s < p.s; ++s) {
              const float tap = w[r * p.s + s];
              const int w_offset = s * p.dilation_w - p.pad_left;
              const ColumnRange inside = InsideColumns(w_offset, p.stride_w, p.w, p.q);
              if (inside.begin == inside.end) continue;
              for (int oh = 0; oh < p.p; ++oh) {
                const int ih = oh * p.stride_h - p.pad_top + r * p.dilation_h;
                if (ih < 0 || ih >= p.h) continue;
                const float* in_row = in + int64_t{ih} * p.w + w_offset;
                float* out_row = out + int64_t{oh} * p.q;
                if (p.stride_w == 1) {
                  for (int ow = inside.begin; ow < inside.end; ++ow) {
                    out_row[ow] += tap * in_row[ow];
                  }
                } else {
                  for (int ow = inside.begin; ow < inside.end; ++ow) {
                    out_row[ow] += tap * in_row[int64_t{ow} * p.stride_w];
                  }
                }
              }
            }
          }
        }
        ApplyEpilogue(args.epilogue, k, out,
                      args.epilogue.residual ? args.epilogue.residual + task * plane
                                             : nullptr,
                      plane);
      }
    });
    return absl::OkStatus();
  }
};

}  // namespace

const ConvAlgorithm& DirectConv() {
  static const DirectConvAlgorithm algorithm;
  return algorithm;
}

}  // namespace convd::cpu
