// What the SGEMM's tests share: their cases, the float64 reference, and
// one product checked against it (sgemm_test.cc, sgemm_choice_test.cc).
#ifndef CONVD_KERNELS_CUDA_SGEMM_TEST_SUPPORT_H_
#define CONVD_KERNELS_CUDA_SGEMM_TEST_SUPPORT_H_

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/gemm_math_rounding.h"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/testing/numeric.h"

namespace convd::cuda::sgemm_testing {

// The maths a parameterized test runs in, and their names (Fp32, Tf32,
// Fp16) for the test's.
inline const auto kEveryMath = ::testing::Values(GemmMath::kFp32, GemmMath::kTf32, GemmMath::kFp16);
inline std::string MathName(const ::testing::TestParamInfo<GemmMath>& info) {
  std::string name = GemmMathName(info.param);
  name[0] = static_cast<char>(std::toupper(name[0]));
  return name;
}

struct Case {
  int m, n, k;
  int pad_a = 0, pad_b = 0;  // extra columns: leading dimension k + pad_a, n + pad_b
  int batch = 1;
  bool share_a = false;
};

// act(A x B + bias + residual) in float64, batch after batch.
inline std::vector<double> ReferenceGemm(const Case& c, const std::vector<float>& a, int64_t lda,
                                         int64_t stride_a, const std::vector<float>& b, int64_t ldb,
                                         int64_t stride_b, const std::vector<float>& bias,
                                         bool bias_per_row, const std::vector<float>& residual,
                                         const ActivationFunction& activation) {
  std::vector<double> exact(static_cast<size_t>(c.batch) * c.m * c.n);
  std::vector<double> row(c.n);
  for (int z = 0; z < c.batch; ++z) {
    for (int i = 0; i < c.m; ++i) {
      // Row i of A x B, summed over p in order for every column.
      std::fill(row.begin(), row.end(), 0.0);
      for (int p = 0; p < c.k; ++p) {
        const double a_ip = a[z * stride_a + i * lda + p];
        const float* b_row = &b[z * stride_b + p * ldb];
        for (int j = 0; j < c.n; ++j) row[j] += a_ip * b_row[j];
      }
      for (int j = 0; j < c.n; ++j) {
        double sum = row[j];
        if (!bias.empty()) sum += bias[bias_per_row ? i : j];
        const size_t at = (static_cast<size_t>(z) * c.m + i) * c.n + j;
        if (!residual.empty()) sum += residual[at];
        exact[at] = reference::ActivateDouble(sum, activation);
      }
    }
  }
  return exact;
}

// Whether a product is left to GPUs when the device is the host emulation
// (DeviceIsEmulated), which runs every thread of every block on one core:
// its cost is about the kernel's 128x128 block tiles times their K steps
// of 8 (64-row tiles cost about half as much each).
// The largest cases here (a fully connected layer at batch 1 has 1,152
// steps in each of 32 tiles) take a minute there and a millisecond on a
// GPU; the smaller ones cover the same code paths.
inline bool LeftToGpus(int m, int n, int k, int batch) {
  constexpr int64_t kEmulatedTileSteps = 4000;
  const int64_t tile_steps = int64_t{(m + 127) / 128} * ((n + 127) / 128) * batch * ((k + 7) / 8);
  return tile_steps > kEmulatedTileSteps && DeviceIsEmulated();
}

// One product of case `c` in `math` (split K into about `split_k` parts
// when above 1, on `kernel` where chosen) against float64, with epilogue 0
// (none), 1 (bias per column) or 2 (bias per row, residual, ReLU).
inline void ExpectMatchesFloat64(const Case& c, GemmMath math, int epilogue_case, int split_k = 1,
                                 GemmKernelChoice kernel = {}) {
  const int64_t lda = c.k + c.pad_a, ldb = c.n + c.pad_b, ldc = c.n;
  const int64_t stride_a = c.share_a ? 0 : c.m * lda;
  const int64_t stride_b = int64_t{c.k} * ldb, stride_c = int64_t{c.m} * ldc;
  std::vector<float> a =
      testing::RandomVector(std::max<int64_t>(1, (c.share_a ? 1 : c.batch) * c.m * lda));
  std::vector<float> b = testing::RandomVector(std::max<int64_t>(1, c.batch * stride_b));
  // The rows' padding holds NaN: a kernel that reads it into a product
  // (where it should read zeros past K or N) poisons the result, whatever
  // the other operand holds there.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t i = 0; lda > 0 && i < a.size(); ++i) {
    if (static_cast<int64_t>(i) % lda >= c.k) a[i] = nan;
  }
  for (size_t i = 0; ldb > 0 && i < b.size(); ++i) {
    if (static_cast<int64_t>(i) % ldb >= c.n) b[i] = nan;
  }
  const bool per_row = epilogue_case != 1;
  std::vector<float> bias, residual;
  ActivationFunction activation;
  if (epilogue_case >= 1) bias = testing::RandomVector(per_row ? c.m : c.n);
  if (epilogue_case == 2) {
    residual = testing::RandomVector(c.batch * stride_c);
    activation = {Activation::kRelu};
  }
  GemmShape shape{c.m, c.n, c.k, lda, ldb, ldc, stride_a, stride_b, stride_c, c.batch};
  auto device_a = DeviceBuffer::FromHost(a);
  auto device_b = DeviceBuffer::FromHost(b);
  auto device_bias = DeviceBuffer::FromHost(bias);
  auto device_residual = DeviceBuffer::FromHost(residual);
  auto device_c = DeviceBuffer::Allocate(c.batch * stride_c);
  auto workspace =
      DeviceBuffer::Allocate(std::max<int64_t>(1, SplitKWorkspaceFloats(shape, split_k)));
  ASSERT_TRUE(device_a.ok() && device_b.ok() && device_bias.ok() && device_residual.ok() &&
              device_c.ok() && workspace.ok());
  GemmEpilogue epilogue;
  epilogue.bias = bias.empty() ? nullptr : device_bias->data();
  epilogue.bias_per_row = per_row;
  epilogue.residual = residual.empty() ? nullptr : device_residual->data();
  epilogue.activation = ToDeviceActivation(activation);
  ASSERT_EQ(
      LaunchSgemm(shape, device_a->data(), device_b->data(), device_c->data(), epilogue, nullptr,
                  math, GemmWorkspace{workspace->data(), workspace->floats(), split_k, kernel}),
      cudaSuccess);
  auto output = device_c->ToHost();
  ASSERT_TRUE(output.ok()) << output.status();
  const std::vector<float> rounded_a = testing::RoundedFor(math, a),
                           rounded_b = testing::RoundedFor(math, b);
  const std::vector<double> expected = ReferenceGemm(c, rounded_a, lda, stride_a, rounded_b, ldb,
                                                     stride_b, bias, per_row, residual, activation);
  // Relative to the terms' magnitudes: a 1x1x1 product can nearly cancel
  // its bias, and relative to such a result one rounding looks large.
  const std::vector<double> scale = ReferenceGemm(
      c, testing::Magnitudes(rounded_a), lda, stride_a, testing::Magnitudes(rounded_b), ldb,
      stride_b, testing::Magnitudes(bias), per_row, testing::Magnitudes(residual), {});
  EXPECT_LE(testing::MaxErrorRelativeTo(output->data(), expected, scale), 1e-5)
      << "m " << c.m << " n " << c.n << " k " << c.k << " lda " << lda << " ldb " << ldb
      << " batch " << c.batch << " epilogue " << epilogue_case << " " << GemmMathName(math)
      << " split " << split_k << " kernel " << kernel.rows << "x" << kernel.columns << "/"
      << kernel.stages;
  if (math != GemmMath::kFp32 && c.k >= 300 && epilogue_case == 0) {
    // And it rounds: against the unrounded inputs the error is far
    // above FP32's (a kernel that ignored the option would pass above).
    const std::vector<double> exact =
        ReferenceGemm(c, a, lda, stride_a, b, ldb, stride_b, bias, per_row, residual, activation);
    EXPECT_GT(testing::MaxRelativeError(output->data(), exact), 2e-5)
        << "m " << c.m << " n " << c.n << " k " << c.k;
  }
}

}  // namespace convd::cuda::sgemm_testing

#endif  // CONVD_KERNELS_CUDA_SGEMM_TEST_SUPPORT_H_
