// The shared vocabulary of every kernel (reference, cpu, cuda): problem
// descriptions and the fused epilogue. Shapes follow CUTLASS's naming:
//   input  [N, C, H, W]; filter [K, C/groups, R, S]; output [N, K, P, Q]
//   GEMM view of a convolution: M = K/groups, N = P*Q (per image),
//   K_gemm = (C/groups)*R*S.
// Output sizes are computed here and only here (the graph's shape inference
// calls these functions), so kernels and shape inference cannot disagree.
#ifndef CONVD_KERNELS_OP_PARAMS_H_
#define CONVD_KERNELS_OP_PARAMS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace convd {

enum class Activation { kNone, kRelu, kSigmoid, kTanh, kLeakyRelu, kClip };
const char* ActivationName(Activation activation);

// An activation with its parameters: what an activation layer computes and
// what a producer's epilogue fuses.
struct ActivationFunction {
  Activation type = Activation::kNone;
  float negative_slope = 0.01f;  // kLeakyRelu: x < 0 ? x * negative_slope : x
  // kClip: min(max(x, clip_min), clip_max), so clip_max wins when
  // clip_min > clip_max (as ONNX); an absent bound is +-infinity.
  float clip_min = 0.0f, clip_max = 6.0f;
};

// What every producer kernel applies to each output value y of channel k:
//   y = act(y + bias[k] + residual[same index])
// bias and residual are optional (nullptr). residual has the output's shape.
struct Epilogue {
  const float* bias = nullptr;
  const float* residual = nullptr;
  ActivationFunction activation;
};

struct ConvParams {
  int n = 1, c = 0, h = 0, w = 0;  // input
  int k = 0, r = 0, s = 0;         // filters
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  int p = 0, q = 0;  // output; filled by ComputeConvOutput

  int c_per_group() const { return c / groups; }
  int k_per_group() const { return k / groups; }
  int64_t input_elements() const { return int64_t{n} * c * h * w; }
  int64_t output_elements() const { return int64_t{n} * k * p * q; }
  int64_t weight_elements() const { return int64_t{k} * c_per_group() * r * s; }
  // Multiply-accumulates for the whole batch.
  int64_t macs() const { return output_elements() * c_per_group() * r * s; }
  std::string ToString() const;
};

// Validates the geometry and fills p and q. Errors name the offending values.
absl::Status ComputeConvOutput(ConvParams& params);

enum class PoolMethod { kMax, kAverage };

struct PoolParams {
  int n = 1, c = 0, h = 0, w = 0;
  PoolMethod method = PoolMethod::kMax;
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool ceil_mode = false;
  // Average: padded cells (not cells beyond the padding, which ceil_mode
  // can add) count in the divisor, as in PyTorch and ONNX.
  bool count_include_pad = true;
  int p = 0, q = 0;

  std::string ToString() const;
};

// PyTorch's rule: with ceil_mode the last window must start inside the
// input or the left/top padding.
absl::Status ComputePoolOutput(PoolParams& params);

struct LrnParams {
  int n = 1, c = 0, h = 0, w = 0;
  int size = 5;
  float alpha = 1e-4f, beta = 0.75f, k = 1.0f;
};

// out[n, o] = sum_i in[n, i] * weight[o, i] (+ epilogue with bias[o]).
struct FullyConnectedParams {
  int n = 1;
  int in_features = 0;
  int out_features = 0;
  int64_t macs() const { return int64_t{n} * in_features * out_features; }
};

}  // namespace convd

#endif  // CONVD_KERNELS_OP_PARAMS_H_
