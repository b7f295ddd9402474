// CPU kernels for every op besides convolution. All tensors are dense NCHW
// float32; outputs never alias inputs unless stated. `pool` may be null
// (single-threaded).
#ifndef CONVD_KERNELS_CPU_OPS_H_
#define CONVD_KERNELS_CPU_OPS_H_

#include <cstdint>
#include <vector>

#include "kernels/op_params.h"

namespace convd {
class ThreadPool;
}

namespace convd::cpu {

// output [N, C, P, Q]; params.p/q as filled by ComputePoolOutput.
void Pooling(const PoolParams& params, const float* input, float* output,
             ThreadPool* pool);

void Lrn(const LrnParams& params, const float* input, float* output,
         ThreadPool* pool);

// A fully connected layer's weights [out, in], row-major: floats, or
// halves (half.h: algorithm_policy.cpu_weights) widened to floats as they
// are read, half the bytes to read at a small batch. Exactly one is set.
struct FullyConnectedWeights {
  const float* floats = nullptr;
  const uint16_t* halves = nullptr;
};

// output [N, out] = input [N, in] * weights [out, in]^T, then the epilogue
// (bias [out], residual [N, out], activation), in float whatever the
// weights' storage. `workspace` holds
// FullyConnectedWorkspaceFloats(params, threads, halves) floats for a pool
// of `threads` threads (1 for a null pool); nullptr where that is 0.
int64_t FullyConnectedWorkspaceFloats(const FullyConnectedParams& params, int threads,
                                      bool halves);
void FullyConnected(const FullyConnectedParams& params, const float* input,
                    const FullyConnectedWeights& weights, const Epilogue& epilogue, float* output,
                    float* workspace, ThreadPool* pool);

// In place allowed (output == input).
void Activate(const float* input, int64_t count, const ActivationFunction& activation,
              float* output, ThreadPool* pool);

// Softmax or log-softmax over the channel axis for each (n, h, w).
void Softmax(const float* input, int n, int c, int plane, bool log,
             float* output, ThreadPool* pool);

// output = sum of inputs (all `count` elements), then `activation`.
void Add(const std::vector<const float*>& inputs, int64_t count,
         const ActivationFunction& activation, float* output, ThreadPool* pool);

// Concatenates along channels: inputs[i] is [N, channels[i], plane].
void Concat(const std::vector<const float*>& inputs,
            const std::vector<int>& channels, int n, int64_t plane,
            float* output);

// Per channel: output = input * scale[c] + shift[c] (a folded batch norm).
void ScaleShift(const float* input, int n, int c, int64_t plane,
                const float* scale, const float* shift, float* output,
                ThreadPool* pool);

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_OPS_H_
