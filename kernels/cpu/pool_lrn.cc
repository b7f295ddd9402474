// Pooling and local response normalisation: one task per (image, channel).
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

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

// The outputs whose window lies inside the input (no padding or overhang
// in it): rows [row_begin, row_end) and columns [column_begin, column_end).
struct InsideWindows {
  int row_begin, row_end, column_begin, column_end;
};

InsideWindows FindInsideWindows(const PoolParams& p) {
  // First output whose window starts at or after the padding; one past the
  // last whose window ends inside the input (at least the first).
  const auto inside = [](int pad, int stride, int kernel, int size, int outputs) {
    const int begin = std::min((pad + stride - 1) / stride, outputs);
    const int end =
        size + pad >= kernel ? std::min((size + pad - kernel) / stride + 1, outputs) : 0;
    return std::pair{begin, std::max(begin, end)};
  };
  const auto [row_begin, row_end] = inside(p.pad_top, p.stride_h, p.kernel_h, p.h, p.p);
  const auto [column_begin, column_end] = inside(p.pad_left, p.stride_w, p.kernel_w, p.w, p.q);
  return {row_begin, row_end, column_begin, column_end};
}

// Max pooling of one output row's inside columns (AlexNet's 3x3 windows at
// stride 2): the window's kernel_h input rows are folded into `folded`
// column by column (vector maxima), then each output takes the maximum of
// kernel_w folded columns. std::max(result, x) keeps result when x is NaN,
// so, starting from -infinity, the folds give PoolOne's value (up to the
// sign of a zero, where +0 and -0 tie). `folded` and `out` are restrict:
// the compiler may then keep the folds in vector registers (it would not
// while `folded` could alias the input; a scalar fold took AlexNet's pool1
// 3-4x as long).
template <int kKernelW, int kStrideW>
void MaxPoolInsideRowOf(const PoolParams& p, const float* plane, int oh,
                        const InsideWindows& inside, float* __restrict folded,
                        float* __restrict out) {
  constexpr float kLowest = -std::numeric_limits<float>::infinity();
  const int kernel_w = kKernelW > 0 ? kKernelW : p.kernel_w;
  const int stride_w = kStrideW > 0 ? kStrideW : p.stride_w;
  const int first_column = inside.column_begin * stride_w - p.pad_left;
  const int last_column = (inside.column_end - 1) * stride_w - p.pad_left + kernel_w;
  const float* top = plane + int64_t{oh * p.stride_h - p.pad_top} * p.w;
  for (int iw = first_column; iw < last_column; ++iw) folded[iw] = std::max(kLowest, top[iw]);
  for (int r = 1; r < p.kernel_h; ++r) {
    const float* row = top + int64_t{r} * p.w;
    for (int iw = first_column; iw < last_column; ++iw) folded[iw] = std::max(folded[iw], row[iw]);
  }
  const float* windows = folded - p.pad_left;
  for (int ow = inside.column_begin; ow < inside.column_end; ++ow) {
    const float* window = windows + ow * stride_w;
    float result = window[0];
    for (int s = 1; s < kernel_w; ++s) result = std::max(result, window[s]);
    out[ow] = result;
  }
}

void MaxPoolInsideRow(const PoolParams& p, const float* plane, int oh, const InsideWindows& inside,
                      float* folded, float* out) {
  if (p.kernel_w == 3 && p.stride_w == 2) {
    MaxPoolInsideRowOf<3, 2>(p, plane, oh, inside, folded, out);
  } else {
    MaxPoolInsideRowOf<0, 0>(p, plane, oh, inside, folded, out);
  }
}

}  // namespace

void Pooling(const PoolParams& p, const float* input, float* output,
             ThreadPool* pool) {
  const int64_t work_per_plane = int64_t{p.p} * p.q * p.kernel_h * p.kernel_w;
  // The rows and columns a fast path takes (windows inside the input, so
  // without bounds); PoolOne takes the rest: the padding, and with
  // ceil_mode a last row or column that hangs over the input.
  const bool plain_2x2 = IsPlain2x2(p);
  const bool max_windows = !plain_2x2 && p.method == PoolMethod::kMax;
  const InsideWindows inside = FindInsideWindows(p);
  const bool fast_path = (plain_2x2 || max_windows) && inside.column_begin < inside.column_end;
  ParallelFor(pool, int64_t{p.n} * p.c, work_per_plane, [&](int64_t begin, int64_t end, int) {
    std::vector<float> folded(max_windows ? p.w : 0);
    for (int64_t nc = begin; nc < end; ++nc) {
      const float* plane = input + nc * p.h * p.w;
      float* out = output + nc * p.p * p.q;
      for (int oh = 0; oh < p.p; ++oh) {
        float* row = out + int64_t{oh} * p.q;
        if (!fast_path || oh < inside.row_begin || oh >= inside.row_end) {
          for (int ow = 0; ow < p.q; ++ow) row[ow] = PoolOne(p, plane, oh, ow);
          continue;
        }
        if (plain_2x2) {  // no padding: the inside columns start at 0
          Pool2x2Row(p, plane + int64_t{2 * oh} * p.w, inside.column_end, row);
        } else {
          MaxPoolInsideRow(p, plane, oh, inside, folded.data(), row);
        }
        for (int ow = 0; ow < inside.column_begin; ++ow) row[ow] = PoolOne(p, plane, oh, ow);
        for (int ow = inside.column_end; ow < p.q; ++ow) row[ow] = PoolOne(p, plane, oh, ow);
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
