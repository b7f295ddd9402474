// Naive reference implementations of every op, accumulating in float64.
// They are the test oracle: slow, obviously correct, no shortcuts. All
// tensors are dense NCHW float32; outputs are written in float64 so tests can
// measure the error of float32 kernels against them.
#ifndef CONVD_KERNELS_REFERENCE_REFERENCE_OPS_H_
#define CONVD_KERNELS_REFERENCE_REFERENCE_OPS_H_

#include <vector>

#include "kernels/op_params.h"

namespace convd::reference {

// output [N, K, P, Q] = act(conv(input, weights) + bias + residual).
// bias [K] and residual [N, K, P, Q] may be null.
std::vector<double> Convolution(const ConvParams& params, const float* input,
                                const float* weights, const float* bias,
                                const float* residual, const ActivationFunction& activation);

std::vector<double> Pooling(const PoolParams& params, const float* input);

std::vector<double> Lrn(const LrnParams& params, const float* input);

// output [N, out] = act(input [N, in] * weights[out, in]^T + bias).
std::vector<double> FullyConnected(const FullyConnectedParams& params,
                                   const float* input, const float* weights,
                                   const float* bias, const ActivationFunction& activation);

double ActivateDouble(double x, const ActivationFunction& activation);

std::vector<double> Activate(const float* input, int64_t count,
                             const ActivationFunction& activation);

// Softmax (or log-softmax) over the channel axis of [N, C, H, W], per (n,h,w).
std::vector<double> Softmax(const float* input, int n, int c, int plane,
                            bool log);

// out[n, c, :] = (in - mean[c]) / sqrt(var[c] + eps) * scale[c] + shift[c].
std::vector<double> BatchNorm(const float* input, int n, int c, int plane,
                              const float* scale, const float* shift,
                              const float* mean, const float* var, float eps);

}  // namespace convd::reference

#endif  // CONVD_KERNELS_REFERENCE_REFERENCE_OPS_H_
