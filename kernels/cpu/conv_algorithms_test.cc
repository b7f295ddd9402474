// Every CPU convolution algorithm against the float64 reference over a grid
// of odd shapes, with and without the fused epilogue, single-threaded and on
// a thread pool. Failures print every shape parameter.
#include "kernels/cpu/conv_algorithms.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_build_testing.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/shape_grid.h"

namespace convd::cpu {
namespace {

using ::convd::testing::MaxErrorRelativeTo;
using ::convd::testing::RandomVector;

using ::convd::testing::kConvShapes;
using ConvShape = ::convd::testing::ConvShape;

ConvParams ToParams(const ConvShape& x) { return ::convd::testing::ToConvParams(x); }

// The 6x6 and 8x8 Winograd tiles (points 0, +-1, +-2, and +-1/2)
// amplify rounding: up to 8e-6 for F(4x4,3x3), 4e-6 for F(2x2,5x5) and
// 6.4e-6 for F(4x4,5x5) over this grid; 4e-7 to 1.3e-6 for the others.
double Tolerance(std::string_view algorithm) {
  return ::convd::testing::HasLargeWinogradTiles(algorithm) ? 1e-4 : 1e-5;
}

struct EpilogueCase {
  const char* name;
  bool bias;
  bool residual;
  ActivationFunction activation;
};

const EpilogueCase kEpilogues[] = {
    {"plain", false, false, {Activation::kNone}},
    {"bias_relu", true, false, {Activation::kRelu}},
    {"bias_residual_relu", true, true, {Activation::kRelu}},
    {"bias_leaky_relu", true, false, {Activation::kLeakyRelu, 0.1f}},
    {"bias_relu6", true, false, {Activation::kClip, 0.0f, 0.0f, 6.0f}},
    {"bias_residual_clip", true, true, {Activation::kClip, 0.0f, -0.5f, 0.75f}},
};

void CheckAlgorithm(const ConvAlgorithm& algorithm, ThreadPool* pool) {
  int implemented = 0;
  for (const ConvShape& shape : kConvShapes) {
    ConvParams params = ToParams(shape);
    ASSERT_TRUE(ComputeConvOutput(params).ok()) << params.ToString();
    if (!algorithm.CanImplement(params).ok()) continue;
    ++implemented;
    const std::vector<float> input = RandomVector(params.input_elements());
    const std::vector<float> weights = RandomVector(params.weight_elements());
    const std::vector<float> bias = RandomVector(params.k);
    const std::vector<float> residual = RandomVector(params.output_elements());
    // The float64 sums once a shape (the epilogues below add to them): the
    // reference convolution, not the algorithms, was most of this test's
    // time, under ASan most of all.
    const std::vector<double> sums = reference::Convolution(params, input.data(), weights.data(),
                                                            nullptr, nullptr, {Activation::kNone});
    const int64_t plane = int64_t{params.p} * params.q;
    auto packed = algorithm.PrepareWeights(params, weights.data());
    ASSERT_TRUE(packed.ok()) << packed.status();
    const int threads = pool ? pool->num_threads() : 1;
    AlignedBuffer workspace(algorithm.WorkspaceBytes(params, threads) / sizeof(float) + 1);
    for (const EpilogueCase& e : kEpilogues) {
      ConvArgs args;
      args.params = params;
      args.input = input.data();
      args.weights = &*packed;
      args.epilogue.bias = e.bias ? bias.data() : nullptr;
      args.epilogue.residual = e.residual ? residual.data() : nullptr;
      args.epilogue.activation = e.activation;
      std::vector<float> output(params.output_elements(), -7.0f);
      args.output = output.data();
      args.workspace = workspace.data();
      ExecContext context{pool};
      ASSERT_TRUE(algorithm.Run(args, context).ok());
      // Relative to the sums' magnitude before the activation.
      std::vector<double> unactivated(sums), expected(sums.size());
      for (int64_t i = 0; i < static_cast<int64_t>(sums.size()); ++i) {
        if (e.bias) unactivated[i] += bias[i / plane % params.k];
        if (e.residual) unactivated[i] += residual[i];
        expected[i] = reference::ActivateDouble(unactivated[i], e.activation);
      }
      const double error = MaxErrorRelativeTo(output.data(), expected, unactivated);
      EXPECT_LE(error, Tolerance(algorithm.name()))
          << algorithm.name() << " epilogue=" << e.name << " threads=" << threads
          << " " << params.ToString();
    }
  }
  EXPECT_GT(implemented, 0) << algorithm.name() << " implemented no shape";
}

class ConvAlgorithmTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvAlgorithmTest, MatchesReferenceSingleThreaded) {
  CheckAlgorithm(*FindConvAlgorithm(GetParam()), nullptr);
}

TEST_P(ConvAlgorithmTest, MatchesReferenceOnThreadPool) {
  ThreadPool pool(3);
  CheckAlgorithm(*FindConvAlgorithm(GetParam()), &pool);
}

INSTANTIATE_TEST_SUITE_P(AllCpuAlgorithms, ConvAlgorithmTest,
                         ::testing::Values("direct", "im2col", "winograd_f23", "winograd_f43",
                                           "winograd_f25", "winograd_f45", "winograd_f43_s2d"),
                         [](const auto& info) { return info.param; });

// Each build of DirectConv this CPU runs: "direct" above is the widest.
// Each build of direct's loops, each loop order (the row loops on the
// stride-1 shapes, the filter loops on the others), on one thread and on
// a pool.
class DirectConvBuildTest : public CpuBuildTest<std::tuple<CpuBuild, DirectLoops>> {};

INSTANTIATE_TEST_SUITE_P(
    Builds, DirectConvBuildTest,
    ::testing::Combine(::testing::ValuesIn(kAllCpuBuilds),
                       ::testing::Values(DirectLoops::kFilters, DirectLoops::kRows)),
    [](const auto& info) {
      return std::string(CpuBuildName(std::get<0>(info.param))) +
             (std::get<1>(info.param) == DirectLoops::kRows ? "_rows" : "_filters");
    });

TEST_P(DirectConvBuildTest, MatchesReference) {
  const auto [build, loops] = GetParam();
  ThreadPool pool(3);
  CheckAlgorithm(DirectConvForTesting(build, loops), nullptr);
  CheckAlgorithm(DirectConvForTesting(build, loops), &pool);
}

// Each build of im2col's unrolling, on one thread and on a pool (the pool
// cuts the planes into column blocks).
class Im2colBuildTest : public CpuBuildTest<> {};

INSTANTIATE_TEST_SUITE_P(Builds, Im2colBuildTest, ::testing::ValuesIn(kAllCpuBuilds),
                         CpuBuildTestName);

TEST_P(Im2colBuildTest, MatchesReference) {
  ThreadPool pool(3);
  CheckAlgorithm(Im2colGemmConvForTesting(GetParam()), nullptr);
  CheckAlgorithm(Im2colGemmConvForTesting(GetParam()), &pool);
}

// Each build of the Winograd transforms (4, 8 or 16 tiles at once), on one
// thread: the thread pool's paths are the same in every build, and
// ConvAlgorithmTest runs them in the widest.
class WinogradBuildTest : public CpuBuildTest<> {};

INSTANTIATE_TEST_SUITE_P(Builds, WinogradBuildTest, ::testing::ValuesIn(kAllCpuBuilds),
                         CpuBuildTestName);

TEST_P(WinogradBuildTest, MatchesReference) {
  for (const char* name : {"winograd_f23", "winograd_f43", "winograd_f25", "winograd_f45"}) {
    SCOPED_TRACE(name);
    const ConvAlgorithm* algorithm = WinogradConvForTesting(name, GetParam());
    ASSERT_NE(algorithm, nullptr);
    CheckAlgorithm(*algorithm, nullptr);
  }
  EXPECT_EQ(WinogradConvForTesting("direct", GetParam()), nullptr);
}

TEST(ConvAlgorithmRegistry, ListsEveryAlgorithmOnce) {
  EXPECT_EQ(AllConvAlgorithms().size(), 7u);
  EXPECT_EQ(FindConvAlgorithm("nope"), nullptr);
  for (const ConvAlgorithm* algorithm : AllConvAlgorithms()) {
    EXPECT_EQ(FindConvAlgorithm(algorithm->name()), algorithm);
  }
}

TEST(WinogradCanImplement, RejectsWithTheRuleAndTheValues) {
  ConvParams p = ToParams({1, 3, 20, 20, 4, 5, 5, 2, 0, 0, 0, 0, 1, 1});
  ASSERT_TRUE(ComputeConvOutput(p).ok());
  for (const ConvAlgorithm* algorithm : {&WinogradF23Conv(), &WinogradF43Conv()}) {
    const absl::Status status = algorithm->CanImplement(p);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(),
              std::string(algorithm->name()) +
                  " needs 3x3 stride 1 dilation 1; got 5x5 stride 2x2 dilation 1x1");
    EXPECT_FALSE(algorithm->PrepareWeights(p, nullptr).ok());
  }
  const absl::Status f25 = WinogradF25Conv().CanImplement(p);
  EXPECT_EQ(f25.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f25.message(),
            "winograd_f25 needs 5x5 stride 1 dilation 1; got 5x5 stride 2x2 "
            "dilation 1x1");
  ConvParams dilated = ToParams({1, 3, 20, 20, 4, 3, 3, 1, 0, 0, 0, 0, 2, 1});
  ASSERT_TRUE(ComputeConvOutput(dilated).ok());
  EXPECT_FALSE(WinogradF43Conv().CanImplement(dilated).ok());
  EXPECT_FALSE(WinogradF25Conv().CanImplement(dilated).ok());  // 3x3
  ConvParams dilated_5x5 = ToParams({1, 3, 20, 20, 4, 5, 5, 1, 0, 0, 0, 0, 2, 1});
  ASSERT_TRUE(ComputeConvOutput(dilated_5x5).ok());
  EXPECT_FALSE(WinogradF25Conv().CanImplement(dilated_5x5).ok());
  EXPECT_FALSE(WinogradF45Conv().CanImplement(dilated_5x5).ok());
  EXPECT_EQ(WinogradF45Conv().CanImplement(p).message(),
            "winograd_f45 needs 5x5 stride 1 dilation 1; got 5x5 stride 2x2 dilation 1x1");
}

TEST(SpaceToDepthCanImplement, TakesStridedFiltersThatBecome3x3) {
  const ConvAlgorithm& s2d = WinogradF43SpaceToDepthConv();
  for (const ConvShape& shape : {ConvShape{1, 3, 35, 35, 5, 11, 11, 4, 2, 2, 2, 2, 1, 1},
                                 ConvShape{1, 3, 20, 20, 4, 5, 5, 2, 0, 0, 0, 0, 1, 1},
                                 ConvShape{1, 3, 20, 20, 4, 6, 6, 2, 0, 0, 0, 0, 1, 1}}) {
    ConvParams p = ToParams(shape);
    ASSERT_TRUE(ComputeConvOutput(p).ok());
    EXPECT_TRUE(s2d.CanImplement(p).ok()) << p.ToString();
  }
  ConvParams stem = ToParams({1, 3, 23, 23, 4, 7, 7, 2, 3, 3, 3, 3, 1, 1});
  ASSERT_TRUE(ComputeConvOutput(stem).ok());
  EXPECT_EQ(s2d.CanImplement(stem).message(),
            "winograd_f43_s2d: a 7x7 filter at stride 2x2 becomes 4x4 at stride 1, and "
            "winograd_f43 needs 3x3 stride 1 dilation 1; got 4x4 stride 1x1 dilation 1x1");
  ConvParams unstrided = ToParams({1, 3, 20, 20, 4, 3, 3, 1, 0, 0, 0, 0, 1, 1});
  ASSERT_TRUE(ComputeConvOutput(unstrided).ok());
  EXPECT_EQ(s2d.CanImplement(unstrided).message(),
            "winograd_f43_s2d needs stride 2 or more in both dimensions, dilation 1 and one "
            "group; got stride 1x1 dilation 1x1 groups 1");
  ConvParams grouped = ToParams({1, 4, 20, 20, 4, 5, 5, 2, 0, 0, 0, 0, 1, 2});
  ASSERT_TRUE(ComputeConvOutput(grouped).ok());
  EXPECT_FALSE(s2d.CanImplement(grouped).ok());
  ConvParams dilated = ToParams({1, 3, 30, 30, 4, 3, 3, 2, 0, 0, 0, 0, 2, 1});
  ASSERT_TRUE(ComputeConvOutput(dilated).ok());
  EXPECT_FALSE(s2d.CanImplement(dilated).ok());
}

TEST(ComputeConvOutput, RejectsBadGeometryNamingTheValues) {
  ConvParams p = ToParams({1, 3, 4, 4, 8, 5, 5, 1, 0, 0, 0, 0, 1, 1});
  absl::Status status = ComputeConvOutput(p);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("exceeds the padded input 4x4"), std::string::npos)
      << status;
  p = ToParams({1, 3, 8, 8, 8, 3, 3, 1, 0, 0, 0, 0, 1, 2});
  status = ComputeConvOutput(p);
  EXPECT_NE(status.message().find("divisible by groups (2)"), std::string::npos) << status;
  p = ToParams({1, 3, 8, 8, -2, 3, 3, 1, 0, 0, 0, 0, 1, 1});
  status = ComputeConvOutput(p);
  EXPECT_EQ(status.message(), "output channels must be positive; got -2");
  p = ToParams({1, 3, 8, 8, 4, 3, 3, 0, 0, 0, 0, 0, 1, 1});
  EXPECT_EQ(ComputeConvOutput(p).message(), "stride height must be positive; got 0");
}

}  // namespace
}  // namespace convd::cpu
