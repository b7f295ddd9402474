// Applies an Epilogue to a run of values of one output channel. Inline so
// every CPU kernel fuses it into its own loops; the CUDA kernels have a
// device twin in kernels/cuda/epilogue.cuh.
#ifndef CONVD_KERNELS_EPILOGUE_INL_H_
#define CONVD_KERNELS_EPILOGUE_INL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/op_params.h"

namespace convd {

inline float Activate(float x, const ActivationFunction& f) {
  switch (f.type) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x > 0.0f ? x : 0.0f;
    case Activation::kSigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Activation::kTanh: return std::tanh(x);
    case Activation::kLeakyRelu: return x > 0.0f ? x : x * f.negative_slope;
    // As ONNX: min > max gives max everywhere; NaN stays NaN (std::max and
    // std::min return their first argument when a comparison is false).
    case Activation::kClip: return std::min(std::max(x, f.clip_min), f.clip_max);
  }
  return x;
}

// data[i] = act(data[i] + bias[channel] + residual[i]) for i in [0, count).
// `residual` points at the same offset as `data` (or is nullptr).
inline void ApplyEpilogue(const Epilogue& epilogue, int channel, float* data,
                          const float* residual, int64_t count) {
  const float bias = epilogue.bias ? epilogue.bias[channel] : 0.0f;
  if (residual) {
    for (int64_t i = 0; i < count; ++i) data[i] += residual[i];
  }
  switch (epilogue.activation.type) {
    case Activation::kNone:
      if (bias != 0.0f) {
        for (int64_t i = 0; i < count; ++i) data[i] += bias;
      }
      return;
    case Activation::kRelu:
      for (int64_t i = 0; i < count; ++i) {
        const float v = data[i] + bias;
        data[i] = v > 0.0f ? v : 0.0f;
      }
      return;
    default:
      for (int64_t i = 0; i < count; ++i) {
        data[i] = Activate(data[i] + bias, epilogue.activation);
      }
  }
}

}  // namespace convd

#endif  // CONVD_KERNELS_EPILOGUE_INL_H_
