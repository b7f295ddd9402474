// Space-to-depth: a strided convolution as a stride-1 one, so that
// Winograd can take it. With stride s (sh x sw), output (oh, ow) reads
// input rows oh*sh + r and columns ow*sw + t. Writing r = a*sh + i and
// t = b*sw + j, that is the stride-1 convolution over a rearranged input
//   X'[c*sh*sw + i*sw + j][y][x] = padded X[c][y*sh + i][x*sw + j]
// with filters
//   W'[k][c*sh*sw + i*sw + j][a][b] = W[k][c][a*sh + i][b*sw + j]
// (zero where a*sh + i >= R or b*sw + j >= S), of ceil(R/sh) x ceil(S/sw)
// taps and sh*sw times the channels. AlexNet's 11x11 stride-4 conv1 over 3
// channels becomes a 3x3 stride-1 convolution over 48 channels, which
// Winograd F(4x4,3x3) computes with a quarter of the multiplies: 144 taps
// instead of 121 (the zeros), at 4x fewer multiplies a tap. The
// rearranged input is written to the workspace each run (its padding and
// the rows and columns past the input as zeros: a zero weight times a
// float left uninitialised could be NaN).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/thread_pool.h"

namespace convd::cpu {
namespace {

int CeilDiv(int a, int b) { return (a + b - 1) / b; }

// The inner, stride-1 convolution's parameters for `p`.
ConvParams SpaceToDepthParams(const ConvParams& p) {
  ConvParams q = p;
  q.c = p.c * p.stride_h * p.stride_w;
  q.r = CeilDiv(p.r, p.stride_h);
  q.s = CeilDiv(p.s, p.stride_w);
  // Exactly the rows and columns the inner filter reads for p's outputs.
  q.h = p.p + q.r - 1;
  q.w = p.q + q.s - 1;
  q.stride_h = q.stride_w = 1;
  q.pad_top = q.pad_left = q.pad_bottom = q.pad_right = 0;
  q.dilation_h = q.dilation_w = 1;
  q.groups = 1;
  // ComputeConvOutput's fields: the same outputs as p.
  q.p = p.p;
  q.q = p.q;
  return q;
}

// Floats of the rearranged input for a batch, rounded up to whole 64-byte
// lines so that the inner algorithm's workspace after it stays aligned.
int64_t InputFloats(const ConvParams& q) {
  constexpr int64_t kLineFloats = 64 / sizeof(float);
  const int64_t floats = int64_t{q.n} * q.c * q.h * q.w;
  return (floats + kLineFloats - 1) / kLineFloats * kLineFloats;
}

class SpaceToDepthConvAlgorithm final : public ConvAlgorithm {
 public:
  // `inner`: the stride-1 algorithm that runs the rearranged convolution.
  SpaceToDepthConvAlgorithm(const ConvAlgorithm& inner, std::string name)
      : inner_(inner), name_(std::move(name)) {}

  std::string_view name() const override { return name_; }

  absl::Status CanImplement(const ConvParams& p) const override {
    if (p.groups != 1 || p.dilation_h != 1 || p.dilation_w != 1 || p.stride_h < 2 ||
        p.stride_w < 2) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s needs stride 2 or more in both dimensions, dilation 1 and one group; got stride "
          "%dx%d dilation %dx%d groups %d",
          name_, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.groups));
    }
    const absl::Status inner = inner_.CanImplement(SpaceToDepthParams(p));
    if (!inner.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: a %dx%d filter at stride %dx%d becomes %dx%d at stride 1, and %s",
                          name_, p.r, p.s, p.stride_h, p.stride_w, CeilDiv(p.r, p.stride_h),
                          CeilDiv(p.s, p.stride_w), inner.message()));
    }
    return absl::OkStatus();
  }

  int64_t WorkspaceBytes(const ConvParams& p, int threads) const override {
    const ConvParams q = SpaceToDepthParams(p);
    return InputFloats(q) * int64_t{sizeof(float)} + inner_.WorkspaceBytes(q, threads);
  }

  absl::StatusOr<PackedWeights> PrepareWeights(const ConvParams& p,
                                               const float* weights) const override {
    const ConvParams q = SpaceToDepthParams(p);
    std::vector<float> rearranged(q.weight_elements(), 0.0f);
    for (int k = 0; k < p.k; ++k) {
      for (int c = 0; c < p.c; ++c) {
        for (int r = 0; r < p.r; ++r) {
          for (int t = 0; t < p.s; ++t) {
            const int channel = (c * p.stride_h + r % p.stride_h) * p.stride_w + t % p.stride_w;
            const int a = r / p.stride_h, b = t / p.stride_w;
            rearranged[((int64_t{k} * q.c + channel) * q.r + a) * q.s + b] =
                weights[((int64_t{k} * p.c + c) * p.r + r) * p.s + t];
          }
        }
      }
    }
    return inner_.PrepareWeights(q, rearranged.data());
  }

  absl::Status Run(const ConvArgs& args, const ExecContext& context) const override {
    const ConvParams& p = args.params;
    const ConvParams q = SpaceToDepthParams(p);
    float* rearranged = args.workspace;
    const int sh = p.stride_h, sw = p.stride_w;
    // One task a rearranged plane: (image, input channel, i, j).
    ParallelFor(context.thread_pool, int64_t{q.n} * q.c, int64_t{q.h} * q.w,
                [&](int64_t begin, int64_t end, int) {
                  for (int64_t plane = begin; plane < end; ++plane) {
                    const int j = static_cast<int>(plane % sw);
                    const int i = static_cast<int>(plane / sw % sh);
                    const int64_t image_channel = plane / (int64_t{sh} * sw);  // n * C + c
                    const float* from = args.input + image_channel * p.h * p.w;
                    float* to = rearranged + plane * q.h * q.w;
                    // Column x reads input column x * sw + j - pad_left; those
                    // inside [0, w) are the columns `inside`, the rest zeros.
                    const ColumnRange inside = InsideColumns(j - p.pad_left, sw, p.w, q.w);
                    for (int y = 0; y < q.h; ++y) {
                      float* row = to + int64_t{y} * q.w;
                      const int ih = y * sh + i - p.pad_top;
                      if (ih < 0 || ih >= p.h) {
                        std::fill_n(row, q.w, 0.0f);
                        continue;
                      }
                      const float* in_row = from + int64_t{ih} * p.w;
                      std::fill_n(row, inside.begin, 0.0f);
                      for (int x = inside.begin; x < inside.end; ++x) {
                        row[x] = in_row[x * sw + j - p.pad_left];
                      }
                      std::fill(row + inside.end, row + q.w, 0.0f);
                    }
                  }
                });
    ConvArgs inner = args;
    inner.params = q;
    inner.input = rearranged;
    inner.workspace = args.workspace + InputFloats(q);
    return inner_.Run(inner, context);
  }

 private:
  const ConvAlgorithm& inner_;
  const std::string name_;
};

}  // namespace

const ConvAlgorithm& WinogradF43SpaceToDepthConv() {
  static const SpaceToDepthConvAlgorithm algorithm(WinogradF43Conv(), "winograd_f43_s2d");
  return algorithm;
}

}  // namespace convd::cpu
