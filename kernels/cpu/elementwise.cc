// Element-wise and channel-wise ops: activations, softmax, add, concat,
// scale-shift. Large flat ranges are split across threads in fixed chunks.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/work_estimate.h"
#include "kernels/epilogue_inl.h"

namespace convd::cpu {
namespace {

constexpr int64_t kElementsPerTask = 1 << 14;

// `work_per_element`: ns per element, about the values it reads and writes.
template <typename Fn>
void ForChunks(ThreadPool* pool, int64_t count, int64_t work_per_element, Fn fn) {
  const int64_t tasks = (count + kElementsPerTask - 1) / kElementsPerTask;
  const int64_t work_per_task = kElementsPerTask * work_per_element;
  ParallelFor(pool, tasks, work_per_task, [&](int64_t begin, int64_t end, int) {
    fn(begin * kElementsPerTask, std::min(count, end * kElementsPerTask));
  });
}

}  // namespace

void Activate(const float* input, int64_t count, const ActivationFunction& activation,
              float* output, ThreadPool* pool) {
  ForChunks(pool, count, 2, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      output[i] = convd::Activate(input[i], activation);
    }
  });
}

void Softmax(const float* input, int n, int c, int plane, bool log,
             float* output, ThreadPool* pool) {
  const int64_t work_per_position = int64_t{c} * (2 + kNsPerTranscendental);
  ParallelFor(pool, int64_t{n} * plane, work_per_position, [&](int64_t begin, int64_t end, int) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / plane, i = task % plane;
      const float* in = input + b * c * plane + i;
      float* out = output + b * c * plane + i;
      float max_value = -std::numeric_limits<float>::infinity();
      for (int ch = 0; ch < c; ++ch) max_value = std::max(max_value, in[ch * plane]);
      double sum = 0.0;
      for (int ch = 0; ch < c; ++ch) sum += std::exp(in[ch * plane] - max_value);
      const float log_sum = static_cast<float>(std::log(sum));
      const float inverse_sum = static_cast<float>(1.0 / sum);
      for (int ch = 0; ch < c; ++ch) {
        const float shifted = in[ch * plane] - max_value;
        out[ch * plane] = log ? shifted - log_sum : std::exp(shifted) * inverse_sum;
      }
    }
  });
}

void Add(const std::vector<const float*>& inputs, int64_t count,
         const ActivationFunction& activation, float* output, ThreadPool* pool) {
  const int64_t work_per_element = static_cast<int64_t>(inputs.size()) + 1;
  ForChunks(pool, count, work_per_element, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float sum = 0.0f;
      for (const float* in : inputs) sum += in[i];
      output[i] = convd::Activate(sum, activation);
    }
  });
}

void Concat(const std::vector<const float*>& inputs,
            const std::vector<int>& channels, int n, int64_t plane,
            float* output) {
  int total = 0;
  for (int c : channels) total += c;
  for (int b = 0; b < n; ++b) {
    float* out = output + int64_t{b} * total * plane;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int64_t size = int64_t{channels[i]} * plane;
      std::memcpy(out, inputs[i] + b * size, size * sizeof(float));
      out += size;
    }
  }
}

void ScaleShift(const float* input, int n, int c, int64_t plane,
                const float* scale, const float* shift, float* output,
                ThreadPool* pool) {
  ParallelFor(pool, int64_t{n} * c, plane * 2, [&](int64_t begin, int64_t end, int) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int ch = static_cast<int>(nc % c);
      const float* in = input + nc * plane;
      float* out = output + nc * plane;
      for (int64_t i = 0; i < plane; ++i) out[i] = in[i] * scale[ch] + shift[ch];
    }
  });
}

}  // namespace convd::cpu
