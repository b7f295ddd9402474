// Pooling, LRN, fully connected, activations, softmax, add, concat and
// scale-shift against the float64 reference on fresh random inputs.
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/aligned_buffer.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/shape_grid.h"

namespace convd::cpu {
namespace {

using ::convd::testing::Magnitudes;
using ::convd::testing::MaxErrorRelativeTo;
using ::convd::testing::MaxRelativeError;
using ::convd::testing::RandomVector;

constexpr double kTolerance = 1e-5;

TEST(PoolingTest, MatchesReferenceForAllParameters) {
  ThreadPool pool(2);
  for (const ::convd::testing::PoolCase& x : ::convd::testing::kPoolCases) {
    for (PoolMethod method : {PoolMethod::kMax, PoolMethod::kAverage}) {
      for (bool count_include_pad : {true, false}) {
        PoolParams p = ::convd::testing::ToPoolParams(x, method, count_include_pad);
        ASSERT_TRUE(ComputePoolOutput(p).ok()) << p.ToString();
        const std::vector<float> input = RandomVector(int64_t{p.n} * p.c * p.h * p.w);
        std::vector<float> output(int64_t{p.n} * p.c * p.p * p.q);
        Pooling(p, input.data(), output.data(), &pool);
        EXPECT_LE(MaxRelativeError(output.data(), reference::Pooling(p, input.data())),
                  kTolerance)
            << p.ToString();
      }
    }
  }
}

TEST(PoolingTest, CeilModeDropsWindowsStartingInThePadding) {
  PoolParams p;
  p.n = 1, p.c = 1, p.h = 6, p.w = 6, p.kernel_h = p.kernel_w = 2;
  p.stride_h = p.stride_w = 2, p.pad_bottom = p.pad_right = 1, p.ceil_mode = true;
  ASSERT_TRUE(ComputePoolOutput(p).ok());
  EXPECT_EQ(p.p, 3);  // PyTorch: ceil((6+1-2)/2)+1 = 4, but window 4 starts at 8 > 6.
  p.ceil_mode = false;
  ASSERT_TRUE(ComputePoolOutput(p).ok());
  EXPECT_EQ(p.p, 3);
  p.h = 7, p.ceil_mode = true;
  ASSERT_TRUE(ComputePoolOutput(p).ok());
  EXPECT_EQ(p.p, 4);
}

TEST(PoolingTest, RejectsBadParameters) {
  PoolParams p;
  p.n = 1, p.c = 1, p.h = 4, p.w = 4, p.kernel_h = p.kernel_w = 2;
  p.pad_top = 2;
  EXPECT_EQ(ComputePoolOutput(p).message(),
            "pads (2,0,0,0) must be smaller than the kernel 2x2");
  p.pad_top = 0, p.kernel_h = 9;
  EXPECT_EQ(ComputePoolOutput(p).message(), "kernel 9x2 exceeds the padded input 4x4");
  p.kernel_h = 2, p.stride_w = 0;
  EXPECT_EQ(ComputePoolOutput(p).message(), "stride width must be positive; got 0");
}

TEST(LrnTest, MatchesReference) {
  ThreadPool pool(2);
  for (int size : {1, 3, 5, 4}) {
    LrnParams p;
    p.n = 2, p.c = 7, p.h = 5, p.w = 3, p.size = size;
    p.alpha = 1e-2f, p.beta = 0.75f, p.k = 2.0f;
    const std::vector<float> input = RandomVector(int64_t{p.n} * p.c * p.h * p.w, -3, 3);
    std::vector<float> output(input.size());
    Lrn(p, input.data(), output.data(), &pool);
    EXPECT_LE(MaxRelativeError(output.data(), reference::Lrn(p, input.data())), kTolerance)
        << "size=" << size;
  }
}

// Weights as floats, or as halves (the reference then multiplies the
// halves' exact values).
class FullyConnectedTest : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(Weights, FullyConnectedTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Halves" : "Floats";
                         });

TEST_P(FullyConnectedTest, MatchesReferenceWithEpilogue) {
  const bool halves = GetParam();
  ThreadPool pool(3);
  // Batch 1 (matrix-vector products; on halves up to batch 8, on floats
  // at batch 2 and where the weights take 1 MiB or less) and larger
  // batches or weights (slices of up to 512 features, a partial one last; halves
  // widened 24 features at a time, a partial block last), on one thread
  // and on three.
  for (ThreadPool* threads : {static_cast<ThreadPool*>(nullptr), &pool}) {
    for (auto [n, in, out] : {std::tuple{1, 9216, 300},
                              {3, 17, 5},
                              {5, 400, 120},
                              {1, 1, 1},
                              {7, 300, 1100},
                              {2, 33, 257},
                              {8, 65, 30},
                              {9, 47, 61},
                              {12, 300, 530}}) {
      FullyConnectedParams p{n, in, out};
      const std::vector<float> input = RandomVector(int64_t{n} * in);
      std::vector<float> weights = RandomVector(int64_t{in} * out);
      std::vector<uint16_t> weight_halves;
      FullyConnectedWeights stored{weights.data()};
      if (halves) {
        for (float& w : weights) {
          weight_halves.push_back(FloatToHalf(w));
          w = HalfToFloat(weight_halves.back());
        }
        stored = {nullptr, weight_halves.data()};
      }
      const std::vector<float> bias = RandomVector(out);
      const std::vector<float> residual = RandomVector(int64_t{n} * out);
      const int thread_count = threads ? threads->num_threads() : 1;
      AlignedBuffer workspace(FullyConnectedWorkspaceFloats(p, thread_count, halves) + 1);
      // Relative to the terms' magnitudes (sum |x w| + |b| (+ |r|)):
      // relative to the result, a 1x1 product that nearly cancels its bias
      // is ill-conditioned (3.5e-5 with seed 14585028832181842158).
      std::vector<double> scale = reference::FullyConnected(
          p, Magnitudes(input).data(), Magnitudes(weights).data(), Magnitudes(bias).data(), {});
      const std::vector<double> sums =
          reference::FullyConnected(p, input.data(), weights.data(), bias.data(), {});
      for (Activation activation : {Activation::kNone, Activation::kRelu, Activation::kTanh}) {
        for (bool with_residual : {false, true}) {
          Epilogue epilogue{bias.data(), with_residual ? residual.data() : nullptr, {activation}};
          std::vector<float> output(int64_t{n} * out, -7.0f);
          FullyConnected(p, input.data(), stored, epilogue, output.data(), workspace.data(),
                         threads);
          std::vector<double> expected(sums.size()), bound(scale);
          for (size_t i = 0; i < sums.size(); ++i) {
            double v = sums[i];
            if (with_residual) {
              v += residual[i];
              bound[i] += std::abs(residual[i]);
            }
            expected[i] = activation == Activation::kRelu   ? std::max(v, 0.0)
                          : activation == Activation::kTanh ? std::tanh(v)
                                                            : v;
          }
          EXPECT_LE(MaxErrorRelativeTo(output.data(), expected, bound), kTolerance)
              << "n=" << n << " in=" << in << " out=" << out << " threads=" << thread_count
              << " activation=" << static_cast<int>(activation) << " residual=" << with_residual;
        }
      }
    }
  }
}

TEST(ActivationTest, MatchesReference) {
  ThreadPool pool(2);
  const std::vector<float> input = RandomVector(40000, -6, 6);
  const float kInfinity = std::numeric_limits<float>::infinity();
  for (ActivationFunction activation : {ActivationFunction{Activation::kRelu},
                                        {Activation::kSigmoid},
                                        {Activation::kTanh},
                                        {Activation::kLeakyRelu, 0.2f},
                                        {Activation::kClip, 0.0f, -1.5f, 2.25f},
                                        {Activation::kClip, 0.0f, -kInfinity, 0.5f},
                                        {Activation::kClip, 0.0f, 0.0f, kInfinity}}) {
    std::vector<float> output(input.size());
    Activate(input.data(), input.size(), activation, output.data(), &pool);
    EXPECT_LE(MaxRelativeError(output.data(),
                               reference::Activate(input.data(), input.size(), activation)),
              kTolerance)
        << ActivationName(activation.type) << " " << activation.clip_min << " "
        << activation.clip_max;
  }
}

TEST(SoftmaxTest, MatchesReference) {
  ThreadPool pool(2);
  for (bool log : {false, true}) {
    for (auto [n, c, plane] : {std::tuple{3, 10, 1}, {2, 1000, 1}, {2, 5, 7}, {1, 1, 1}}) {
      const std::vector<float> input = RandomVector(int64_t{n} * c * plane, -20, 20);
      std::vector<float> output(input.size());
      Softmax(input.data(), n, c, plane, log, output.data(), &pool);
      EXPECT_LE(MaxRelativeError(output.data(),
                                 reference::Softmax(input.data(), n, c, plane, log)),
                kTolerance)
          << "log=" << log << " n=" << n << " c=" << c;
    }
  }
}

TEST(AddConcatScaleShiftTest, MatchReference) {
  ThreadPool pool(2);
  const int n = 2, plane = 15;
  const std::vector<float> a = RandomVector(n * 3 * plane), b = RandomVector(n * 3 * plane),
                           c = RandomVector(n * 4 * plane);
  std::vector<float> sum(a.size());
  Add({a.data(), b.data()}, a.size(), {Activation::kRelu}, sum.data(), &pool);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_FLOAT_EQ(sum[i], std::max(0.0f, a[i] + b[i]));

  std::vector<float> joined(n * 7 * plane);
  Concat({a.data(), c.data()}, {3, 4}, n, plane, joined.data());
  for (int batch = 0; batch < n; ++batch) {
    for (int ch = 0; ch < 7; ++ch) {
      for (int i = 0; i < plane; ++i) {
        const float expected = ch < 3 ? a[(batch * 3 + ch) * plane + i]
                                      : c[(batch * 4 + ch - 3) * plane + i];
        ASSERT_EQ(joined[(batch * 7 + ch) * plane + i], expected);
      }
    }
  }

  const std::vector<float> scale = RandomVector(4), shift = RandomVector(4),
                           mean = RandomVector(4), var = RandomVector(4, 0.1f, 2.0f);
  // A batch norm folded into scale/shift, as the graph pass does.
  std::vector<float> folded_scale(4), folded_shift(4);
  for (int i = 0; i < 4; ++i) {
    folded_scale[i] = scale[i] / std::sqrt(var[i] + 1e-5f);
    folded_shift[i] = shift[i] - mean[i] * folded_scale[i];
  }
  std::vector<float> normalised(c.size());
  ScaleShift(c.data(), n, 4, plane, folded_scale.data(), folded_shift.data(),
             normalised.data(), &pool);
  EXPECT_LE(MaxRelativeError(normalised.data(),
                             reference::BatchNorm(c.data(), n, 4, plane, scale.data(),
                                                  shift.data(), mean.data(), var.data(),
                                                  1e-5f)),
            kTolerance);
}

}  // namespace
}  // namespace convd::cpu
