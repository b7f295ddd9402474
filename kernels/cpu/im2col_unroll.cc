#include "kernels/cpu/im2col_unroll.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/packed_gemm.h"

namespace convd::cpu {

bool UnrollsIntoPanels(const ConvParams& p) { return p.c_per_group() >= 4; }

namespace {

// Calls run(column, n, source) for the runs of columns that tap (r, s)
// reads over output columns [col_begin, col_end), in column order, an
// output row at a time: n (maybe 0) columns from the block's column
// `column` on, reading the channel's plane from `source` on (stride_w
// apart), or padding (source -1). No per-element bounds checks.
template <typename Run>
[[gnu::always_inline]] inline void ForEachTapRun(const ConvParams& p, int r, int s, int col_begin,
                                                 int col_end, Run run) {
  const int iw_offset = s * p.dilation_w - p.pad_left;
  const ColumnRange inside = InsideColumns(iw_offset, p.stride_w, p.w, p.q);
  for (int column = col_begin; column < col_end;) {
    const int oh = column / p.q;
    const int ow_begin = column % p.q;
    const int ow_end = std::min(p.q, ow_begin + (col_end - column));
    const int first = column - col_begin;  // the block's column of ow_begin
    const int ih = oh * p.stride_h - p.pad_top + r * p.dilation_h;
    if (ih < 0 || ih >= p.h) {
      run(first, ow_end - ow_begin, int64_t{-1});
    } else {
      const int lo = std::clamp(inside.begin, ow_begin, ow_end);
      const int hi = std::clamp(inside.end, lo, ow_end);
      run(first, lo - ow_begin, int64_t{-1});
      // Input column of output column ow: ow * stride + iw_offset.
      run(first + (lo - ow_begin), hi - lo,
          int64_t{ih} * p.w + (int64_t{lo} * p.stride_w + iw_offset));
      run(first + (hi - ow_begin), ow_end - hi, int64_t{-1});
    }
    column += ow_end - ow_begin;
  }
}

}  // namespace

// Each (c, r, s) row filled run by run: zeros for padding, a copy
// (contiguous at stride 1) of the input row between.
void UnrollRowMajor(const ConvParams& p, const float* in, int col_begin, int col_end, float* col) {
  const int cols = col_end - col_begin;
  for (int c = 0; c < p.c_per_group(); ++c) {
    const float* plane = in + int64_t{c} * p.h * p.w;
    for (int r = 0; r < p.r; ++r) {
      for (int s = 0; s < p.s; ++s) {
        float* row = col + ((int64_t{c} * p.r + r) * p.s + s) * cols;
        ForEachTapRun(p, r, s, col_begin, col_end, [&](int column, int n, int64_t source) {
          float* to = row + column;
          if (source < 0) {
            std::fill(to, to + n, 0.0f);
            return;
          }
          const float* from = plane + source;
          if (p.stride_w == 1) {
            std::copy(from, from + n, to);
          } else if (p.stride_w == 2) {
            // A constant stride: the compiler gathers 4 a time by shuffles.
            for (int i = 0; i < n; ++i) to[i] = from[2 * i];
          } else {
            for (int i = 0; i < n; ++i) to[i] = from[int64_t{i} * p.stride_w];
          }
        });
      }
    }
  }
}

namespace {

// A run of one unrolled row's columns that lies in one panel of the packed
// operand and reads one input row (a stride_w apart), or only padding.
struct UnrollSpan {
  int64_t source;  // the first column's input in the channel's plane; -1: zeros
  int32_t packed;  // where the first column goes in row 0; row x's is x * width on
  int16_t count;   // columns, 1 to kPackedGemmColumns
  int16_t width;   // the panel's width: its rows are this far apart
};

// At most how many spans PlanTapSpans makes for `cols` columns: up to 3 a
// piece of an output row (padding, inside, padding), one more for each
// panel edge a run crosses, and the last panel's padding; and never more
// than one a column.
int64_t SpansPerTap(const ConvParams& p, int cols) {
  const int64_t row_pieces = (cols - 1) / p.q + 2;
  const int64_t panels = PackedRightColumns(cols) / kPackedGemmColumns;
  return std::min<int64_t>(3 * row_pieces + panels + 1, PackedRightColumns(cols));
}

// The spans of tap (r, s) for output columns [col_begin, col_end) in
// column order, the last panel's padding columns as zeros; returns how
// many (at most SpansPerTap).
int PlanTapSpans(const ConvParams& p, int r, int s, int col_begin, int col_end, UnrollSpan* spans) {
  const int cols = col_end - col_begin;
  const int crs = p.c_per_group() * p.r * p.s;
  int count = 0;
  // Columns [column, column + n) of the block, read from `source` on or
  // zeros, cut at the panels' edges.
  auto add = [&](int column, int n, int64_t source) {
    while (n > 0) {
      const int panel = column / kPackedGemmColumns * kPackedGemmColumns;
      const int width = PackedPanelWidth(cols - panel);
      const int lane = column - panel;
      const int taken = std::min(n, width - lane);
      spans[count++] =
          UnrollSpan{source, static_cast<int32_t>(PackedRightOffset(cols, crs, 0, column)),
                     static_cast<int16_t>(taken), static_cast<int16_t>(width)};
      column += taken;
      n -= taken;
      if (source >= 0) source += int64_t{taken} * p.stride_w;
    }
  };
  ForEachTapRun(p, r, s, col_begin, col_end, add);
  add(cols, PackedRightColumns(cols) - cols, -1);
  return count;
}

// `from` (nullptr: zeros), `stride` apart, into n <= 16 consecutive floats.
// (Types with a static function, not lambdas: each build's body is built
// for its caller's target.)
struct CopySpanScalar {
  [[gnu::always_inline]] static void Copy(const float* from, int stride, int n, float* to) {
    if (from == nullptr) {
      for (int i = 0; i < n; ++i) to[i] = 0.0f;
    } else if (stride == 1) {
      for (int i = 0; i < n; ++i) to[i] = from[i];
    } else if (stride == 2) {
      for (int i = 0; i < n; ++i) to[i] = from[2 * i];
    } else {
      for (int i = 0; i < n; ++i) to[i] = from[int64_t{i} * stride];
    }
  }
};
// One masked load (two at stride 2, a gather beyond) and one masked store:
// the masked-off lanes are neither read nor written, so a span at the end
// of the input reads nothing past it. Not always_inline: GCC checks that
// attribute against UnrollRowsOf's own (default) target before
// UnrollRowsOf is inlined into UnrollRowsAvx512, where the inliner then
// inlines this (objdump shows no call).
struct CopySpanAvx512 {
  [[gnu::target("avx512f,avx2,fma")]] static inline void Copy(const float* from, int stride, int n,
                                                              float* to) {
    const __mmask16 mask = static_cast<__mmask16>((1u << n) - 1);
    __m512 v;
    if (from == nullptr) {
      v = _mm512_setzero_ps();
    } else if (stride == 1) {
      v = _mm512_maskz_loadu_ps(mask, from);
    } else if (stride == 2) {
      // Inputs 0, 2, ..., 2n - 2: 2n - 1 floats over two vectors.
      const uint32_t reads = (uint32_t{1} << (2 * n - 1)) - 1;
      const __m512 low = _mm512_maskz_loadu_ps(static_cast<__mmask16>(reads), from);
      const __m512 high = _mm512_maskz_loadu_ps(static_cast<__mmask16>(reads >> 16), from + 16);
      const __m512i even =
          _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      v = _mm512_permutex2var_ps(low, even, high);
    } else {
      const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
      v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask,
                                   _mm512_mullo_epi32(lanes, _mm512_set1_epi32(stride)), from, 4);
    }
    _mm512_mask_storeu_ps(to, mask, v);
  }
};

// Rows in order (channel by channel, tap by tap within a channel), each
// along its tap's spans: every panel's rows are written front to back.
// (Tap by tap, each channel's row, wrote a line of each panel a row apart
// in the taps; AlexNet's conv3 at batch 1 then ran 15-25% slower in some
// processes than in others.)
template <typename CopySpan>
[[gnu::always_inline]] inline void UnrollRowsOf(const ConvParams& p, const float* in,
                                                const UnrollSpan* spans, const int* span_counts,
                                                int64_t spans_per_tap, float* packed) {
  const int taps = p.r * p.s;
  const int64_t plane_floats = int64_t{p.h} * p.w;
  int64_t row = 0;
  for (int c = 0; c < p.c_per_group(); ++c) {
    const float* plane = in + c * plane_floats;
    for (int tap = 0; tap < taps; ++tap, ++row) {
      const UnrollSpan* tap_spans = spans + tap * spans_per_tap;
      for (int i = 0; i < span_counts[tap]; ++i) {
        const UnrollSpan& span = tap_spans[i];
        CopySpan::Copy(span.source < 0 ? nullptr : plane + span.source, p.stride_w, span.count,
                       packed + span.packed + row * span.width);
      }
    }
  }
}

void UnrollRowsBaseline(const ConvParams& p, const float* in, const UnrollSpan* spans,
                        const int* span_counts, int64_t spans_per_tap, float* packed) {
  UnrollRowsOf<CopySpanScalar>(p, in, spans, span_counts, spans_per_tap, packed);
}
[[gnu::target("avx2,fma")]] void UnrollRowsAvx2(const ConvParams& p, const float* in,
                                                const UnrollSpan* spans, const int* span_counts,
                                                int64_t spans_per_tap, float* packed) {
  UnrollRowsOf<CopySpanScalar>(p, in, spans, span_counts, spans_per_tap, packed);
}
[[gnu::target("avx512f,avx2,fma")]] void UnrollRowsAvx512(const ConvParams& p, const float* in,
                                                          const UnrollSpan* spans,
                                                          const int* span_counts,
                                                          int64_t spans_per_tap, float* packed) {
  UnrollRowsOf<CopySpanAvx512>(p, in, spans, span_counts, spans_per_tap, packed);
}

}  // namespace

// Every tap's spans, then their counts.
int64_t UnrollPlanFloats(const ConvParams& p, int columns) {
  const int64_t taps = int64_t{p.r} * p.s;
  const int64_t bytes = taps * SpansPerTap(p, columns) * sizeof(UnrollSpan) + taps * sizeof(int);
  return (bytes + 63) / 64 * 16;
}

void UnrollIntoPanels(CpuBuild build, const ConvParams& p, const float* in, int col_begin,
                      int col_end, float* plan, float* packed) {
  const int taps = p.r * p.s;
  // Spaced for the block's own columns: SpansPerTap grows with them.
  const int64_t spans_per_tap = SpansPerTap(p, col_end - col_begin);
  auto* spans = reinterpret_cast<UnrollSpan*>(plan);
  auto* span_counts = reinterpret_cast<int*>(spans + taps * spans_per_tap);
  for (int r = 0; r < p.r; ++r) {
    for (int s = 0; s < p.s; ++s) {
      const int tap = r * p.s + s;
      span_counts[tap] = PlanTapSpans(p, r, s, col_begin, col_end, spans + tap * spans_per_tap);
    }
  }
  CallBuild(build, UnrollRowsBaseline, UnrollRowsAvx2, UnrollRowsAvx512, p, in, spans, span_counts,
            spans_per_tap, packed);
}

}  // namespace convd::cpu
