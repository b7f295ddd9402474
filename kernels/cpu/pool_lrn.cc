// Pooling and local response normalisation: one task per (image, channel).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/work_estimate.h"

namespace convd::cpu {

void Pooling(const PoolParams& p, const float* input, float* output,
             ThreadPool* pool) {
  const int64_t work_per_plane = int64_t{p.p} * p.q * p.kernel_h * p.kernel_w;
  ParallelFor(pool, int64_t{p.n} * p.c, work_per_plane, [&](int64_t begin, int64_t end, int) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const float* plane = input + nc * p.h * p.w;
      float* out = output + nc * p.p * p.q;
      for (int oh = 0; oh < p.p; ++oh) {
        const int h0 = oh * p.stride_h - p.pad_top;
        const int h_begin = std::max(h0, 0), h_end = std::min(h0 + p.kernel_h, p.h);
        const int h_pad_end = std::min(h0 + p.kernel_h, p.h + p.pad_bottom);
        for (int ow = 0; ow < p.q; ++ow) {
          const int w0 = ow * p.stride_w - p.pad_left;
          const int w_begin = std::max(w0, 0), w_end = std::min(w0 + p.kernel_w, p.w);
          float result;
          if (p.method == PoolMethod::kMax) {
            result = -std::numeric_limits<float>::infinity();
            for (int ih = h_begin; ih < h_end; ++ih) {
              for (int iw = w_begin; iw < w_end; ++iw) {
                result = std::max(result, plane[int64_t{ih} * p.w + iw]);
              }
            }
          } else {
            float sum = 0.0f;
            for (int ih = h_begin; ih < h_end; ++ih) {
              for (int iw = w_begin; iw < w_end; ++iw) sum += plane[int64_t{ih} * p.w + iw];
            }
            const int w_pad_end = std::min(w0 + p.kernel_w, p.w + p.pad_right);
            const int divisor = p.count_include_pad
                                    ? (h_pad_end - h0) * (w_pad_end - w0)
                                    : (h_end - h_begin) * (w_end - w_begin);
            result = divisor > 0 ? sum / divisor : 0.0f;
          }
          out[int64_t{oh} * p.q + ow] = result;
        }
      }
    }
  });
}

void Lrn(const LrnParams& p, const float* input, float* output,
         ThreadPool* pool) {
  const int64_t plane = int64_t{p.h} * p.w;
  const int before = (p.size - 1) / 2, after = p.size / 2;
  const float scale = p.alpha / p.size;
  const int64_t work_per_plane = plane * (p.size + kNsPerTranscendental);
  ParallelFor(pool, int64_t{p.n} * p.c, work_per_plane, [&](int64_t begin, int64_t end, int) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int n = static_cast<int>(nc / p.c), c = static_cast<int>(nc % p.c);
      const int first = std::max(0, c - before), last = std::min(p.c - 1, c + after);
      const float* center = input + nc * plane;
      float* out = output + nc * plane;
      for (int64_t i = 0; i < plane; ++i) {
        float sum = 0.0f;
        for (int j = first; j <= last; ++j) {
          const float v = input[(int64_t{n} * p.c + j) * plane + i];
          sum += v * v;
        }
        out[i] = center[i] * std::pow(p.k + scale * sum, -p.beta);
      }
    }
  });
}

}  // namespace convd::cpu
