// The interface every convolution algorithm implements, on every backend.
// The planner asks CanImplement (cheap) and WorkspaceBytes at load, calls
// PrepareWeights once (Winograd filter transform, packing), and stores the
// choice in the plan; the executor only ever calls Run.
//
// Thread safety: implementations are stateless; all methods are const and
// may be called concurrently.
#ifndef CONVD_KERNELS_CONV_ALGORITHM_H_
#define CONVD_KERNELS_CONV_ALGORITHM_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/aligned_buffer.h"
#include "kernels/op_params.h"

namespace convd {

class ThreadPool;

// Weights in the layout an algorithm wants, prepared once at load.
struct PackedWeights {
  AlignedBuffer data;
};

// Everything a kernel may use besides its arguments.
struct ExecContext {
  ThreadPool* thread_pool = nullptr;  // CPU backend; null runs single-threaded
};

struct ConvArgs {
  ConvParams params;  // params.n is this run's batch size
  const float* input = nullptr;       // [N, C, H, W]
  const PackedWeights* weights = nullptr;
  Epilogue epilogue;                  // bias [K], residual [N, K, P, Q]
  float* output = nullptr;            // [N, K, P, Q]; must not alias input
  float* workspace = nullptr;         // WorkspaceBytes(params, threads) bytes
};

class ConvAlgorithm {
 public:
  virtual ~ConvAlgorithm() = default;

  // Stable name used in configs, plans and stats: "direct", "im2col",
  // "winograd_f23", "winograd_f43", "winograd_f25", "winograd_f45",
  // "winograd_f43_s2d" (the CPU's), "implicit_gemm" (the GPU's).
  virtual std::string_view name() const = 0;

  // OK if this algorithm computes `params` exactly; otherwise
  // INVALID_ARGUMENT stating the rule and the values that broke it.
  virtual absl::Status CanImplement(const ConvParams& params) const = 0;

  // Scratch bytes Run needs for `params` (batch params.n) when up to
  // `threads` workers run at once.
  virtual int64_t WorkspaceBytes(const ConvParams& params, int threads) const = 0;

  // Transforms `weights` [K, C/groups, R, S] into this algorithm's layout.
  virtual absl::StatusOr<PackedWeights> PrepareWeights(
      const ConvParams& params, const float* weights) const = 0;

  virtual absl::Status Run(const ConvArgs& args, const ExecContext& context) const = 0;
};

}  // namespace convd

#endif  // CONVD_KERNELS_CONV_ALGORITHM_H_
