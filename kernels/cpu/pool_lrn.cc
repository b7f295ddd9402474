// Pooling and local response normalisation: one task per (image, channel).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/work_estimate.h"

namespace convd::cpu {

namespace {

// One output value by the definition: the window clipped to the input.
float PoolOne(const PoolParams& p, const float* plane, int oh, int ow) {
  const int h0 = oh * p.stride_h - p.pad_top;
  const int h_begin = std::max(h0, 0), h_end = std::min(h0 + p.kernel_h, p.h);
  const int w0 = ow * p.stride_w - p.pad_left;
  const int w_begin = std::max(w0, 0), w_end = std::min(w0 + p.kernel_w, p.w);
  if (p.method == PoolMethod::kMax) {
    float result = -std::numeric_limits<float>::infinity();
    for (int ih = h_begin; ih < h_end; ++ih) {
      for (int iw = w_begin; iw < w_end; ++iw) {
        result = std::max(result, plane[int64_t{ih} * p.w + iw]);
      }
    }
    return result;
  }
  float sum = 0.0f;
  for (int ih = h_begin; ih < h_end; ++ih) {
    for (int iw = w_begin; iw < w_end; ++iw) sum += plane[int64_t{ih} * p.w + iw];
  }
  const int h_pad_end = std::min(h0 + p.kernel_h, p.h + p.pad_bottom);
  const int w_pad_end = std::min(w0 + p.kernel_w, p.w + p.pad_right);
  const int divisor = p.count_include_pad ? (h_pad_end - h0) * (w_pad_end - w0)
                                          : (h_end - h_begin) * (w_end - w_begin);
  return divisor > 0 ? sum / divisor : 0.0f;
}

// 2x2 windows at stride 2 without padding (LeNet's and VGG's pooling):
// outputs whose window is inside the input, the same operations in the
// same order as PoolOne, without its per-output bounds.
bool IsPlain2x2(const PoolParams& p) {
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 &&
         p.pad_top == 0 && p.pad_left == 0;
}

void Pool2x2Row(const PoolParams& p, const float* top, int columns, float* out) {
  const float* bottom = top + p.w;
  if (p.method == PoolMethod::kMax) {
    for (int ow = 0; ow < columns; ++ow) {
      float result = -std::numeric_limits<float>::infinity();
      result = std::max(result, top[2 * ow]);
      result = std::max(result, top[2 * ow + 1]);
      result = std::max(result, bottom[2 * ow]);
      out[ow] = std::max(result, bottom[2 * ow + 1]);
    }
  } else {
    for (int ow = 0; ow < columns; ++ow) {
      out[ow] =
          (((0.0f + top[2 * ow]) + top[2 * ow + 1]) + bottom[2 * ow] + bottom[2 * ow + 1]) / 4;
    }
  }
}

}  // namespace

void Pooling(const PoolParams& p, const float* input, float* output,
             ThreadPool* pool) {
  const int64_t work_per_plane = int64_t{p.p} * p.q * p.kernel_h * p.kernel_w;
  // With ceil_mode, a last row or column may hang over the input.
  const bool plain_2x2 = IsPlain2x2(p);
  const int inside_rows = plain_2x2 ? std::min(p.p, p.h / 2) : 0;
  const int inside_columns = plain_2x2 ? std::min(p.q, p.w / 2) : 0;
  ParallelFor(pool, int64_t{p.n} * p.c, work_per_plane, [&](int64_t begin, int64_t end, int) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const float* plane = input + nc * p.h * p.w;
      float* out = output + nc * p.p * p.q;
      for (int oh = 0; oh < p.p; ++oh) {
        float* row = out + int64_t{oh} * p.q;
        int ow = 0;
        if (oh < inside_rows) {
          Pool2x2Row(p, plane + int64_t{2 * oh} * p.w, inside_columns, row);
          ow = inside_columns;
        }
        for (; ow < p.q; ++ow) row[ow] = PoolOne(p, plane, oh, ow);
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
