#include "kernels/reference/reference_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace convd::reference {

double ActivateDouble(double x, const ActivationFunction& f) {
  switch (f.type) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x > 0 ? x : 0;
    case Activation::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Activation::kTanh: return std::tanh(x);
    case Activation::kLeakyRelu: return x > 0 ? x : x * f.negative_slope;
    case Activation::kClip: return std::min<double>(std::max<double>(x, f.clip_min), f.clip_max);
  }
  return x;
}

std::vector<double> Convolution(const ConvParams& p, const float* input,
                                const float* weights, const float* bias,
                                const float* residual, const ActivationFunction& activation) {
  std::vector<double> out(p.output_elements());
  const int cg = p.c_per_group(), kg = p.k_per_group();
  for (int n = 0; n < p.n; ++n) {
    for (int k = 0; k < p.k; ++k) {
      const int g = k / kg;
      for (int oh = 0; oh < p.p; ++oh) {
        for (int ow = 0; ow < p.q; ++ow) {
          double acc = bias ? bias[k] : 0.0;
          for (int c = 0; c < cg; ++c) {
            const int ic = g * cg + c;
            for (int r = 0; r < p.r; ++r) {
              const int ih = oh * p.stride_h - p.pad_top + r * p.dilation_h;
              if (ih < 0 || ih >= p.h) continue;
              for (int s = 0; s < p.s; ++s) {
                const int iw = ow * p.stride_w - p.pad_left + s * p.dilation_w;
                if (iw < 0 || iw >= p.w) continue;
                acc += double{input[((int64_t{n} * p.c + ic) * p.h + ih) * p.w + iw]} *
                       weights[((int64_t{k} * cg + c) * p.r + r) * p.s + s];
              }
            }
          }
          const int64_t index = ((int64_t{n} * p.k + k) * p.p + oh) * p.q + ow;
          if (residual) acc += residual[index];
          out[index] = ActivateDouble(acc, activation);
        }
      }
    }
  }
  return out;
}

std::vector<double> Pooling(const PoolParams& p, const float* input) {
  std::vector<double> out(int64_t{p.n} * p.c * p.p * p.q);
  for (int nc = 0; nc < p.n * p.c; ++nc) {
    const float* plane = input + int64_t{nc} * p.h * p.w;
    for (int oh = 0; oh < p.p; ++oh) {
      for (int ow = 0; ow < p.q; ++ow) {
        const int h0 = oh * p.stride_h - p.pad_top;
        const int w0 = ow * p.stride_w - p.pad_left;
        // The window clipped to input + padding decides the divisor when
        // padding counts; the window clipped to the input otherwise.
        const int h_end_pad = std::min(h0 + p.kernel_h, p.h + p.pad_bottom);
        const int w_end_pad = std::min(w0 + p.kernel_w, p.w + p.pad_right);
        const int pad_count = (h_end_pad - h0) * (w_end_pad - w0);
        double best = -std::numeric_limits<double>::infinity();
        double sum = 0;
        int count = 0;
        for (int ih = std::max(h0, 0); ih < std::min(h0 + p.kernel_h, p.h); ++ih) {
          for (int iw = std::max(w0, 0); iw < std::min(w0 + p.kernel_w, p.w); ++iw) {
            const double v = plane[int64_t{ih} * p.w + iw];
            best = std::max(best, v);
            sum += v;
            ++count;
          }
        }
        double result;
        if (p.method == PoolMethod::kMax) {
          result = best;
        } else {
          const int divisor = p.count_include_pad ? pad_count : count;
          result = divisor > 0 ? sum / divisor : 0.0;
        }
        out[(int64_t{nc} * p.p + oh) * p.q + ow] = result;
      }
    }
  }
  return out;
}

std::vector<double> Lrn(const LrnParams& p, const float* input) {
  const int64_t plane = int64_t{p.h} * p.w;
  std::vector<double> out(int64_t{p.n} * p.c * plane);
  const int before = (p.size - 1) / 2, after = p.size / 2;
  for (int n = 0; n < p.n; ++n) {
    for (int c = 0; c < p.c; ++c) {
      for (int64_t i = 0; i < plane; ++i) {
        double sum = 0;
        for (int j = std::max(0, c - before); j <= std::min(p.c - 1, c + after); ++j) {
          const double v = input[(int64_t{n} * p.c + j) * plane + i];
          sum += v * v;
        }
        const int64_t index = (int64_t{n} * p.c + c) * plane + i;
        out[index] = input[index] /
                     std::pow(p.k + p.alpha / p.size * sum, double{p.beta});
      }
    }
  }
  return out;
}

std::vector<double> FullyConnected(const FullyConnectedParams& p,
                                   const float* input, const float* weights,
                                   const float* bias, const ActivationFunction& activation) {
  std::vector<double> out(int64_t{p.n} * p.out_features);
  for (int n = 0; n < p.n; ++n) {
    for (int o = 0; o < p.out_features; ++o) {
      double acc = bias ? bias[o] : 0.0;
      for (int i = 0; i < p.in_features; ++i) {
        acc += double{input[int64_t{n} * p.in_features + i]} *
               weights[int64_t{o} * p.in_features + i];
      }
      out[int64_t{n} * p.out_features + o] = ActivateDouble(acc, activation);
    }
  }
  return out;
}

std::vector<double> Activate(const float* input, int64_t count,
                             const ActivationFunction& activation) {
  std::vector<double> out(count);
  for (int64_t i = 0; i < count; ++i) {
    out[i] = ActivateDouble(input[i], activation);
  }
  return out;
}

std::vector<double> Softmax(const float* input, int n, int c, int plane,
                            bool log) {
  std::vector<double> out(int64_t{n} * c * plane);
  for (int b = 0; b < n; ++b) {
    for (int i = 0; i < plane; ++i) {
      auto at = [&](int ch) { return (int64_t{b} * c + ch) * plane + i; };
      double max_value = -std::numeric_limits<double>::infinity();
      for (int ch = 0; ch < c; ++ch) max_value = std::max(max_value, double{input[at(ch)]});
      double sum = 0;
      for (int ch = 0; ch < c; ++ch) sum += std::exp(input[at(ch)] - max_value);
      for (int ch = 0; ch < c; ++ch) {
        const double shifted = input[at(ch)] - max_value;
        out[at(ch)] = log ? shifted - std::log(sum) : std::exp(shifted) / sum;
      }
    }
  }
  return out;
}

std::vector<double> BatchNorm(const float* input, int n, int c, int plane,
                              const float* scale, const float* shift,
                              const float* mean, const float* var, float eps) {
  std::vector<double> out(int64_t{n} * c * plane);
  for (int b = 0; b < n; ++b) {
    for (int ch = 0; ch < c; ++ch) {
      const double inv_std = 1.0 / std::sqrt(double{var[ch]} + eps);
      for (int i = 0; i < plane; ++i) {
        const int64_t index = (int64_t{b} * c + ch) * plane + i;
        out[index] = (input[index] - double{mean[ch]}) * inv_std * scale[ch] + shift[ch];
      }
    }
  }
  return out;
}

}  // namespace convd::reference
