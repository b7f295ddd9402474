// The SGEMM on a GPU whose blocks may opt in to less shared memory than an
// H100's: the emulation made into an sm_120 card (99 KB a block) before
// any launch. The tensor-core kernel's 128x128 tiles need 105-110 KB; the
// rule's products must then run on the register-staged kernel, and a
// benchmark's explicit choice of the tensor-core kernel must fail cleanly.
// Emulated only: a GPU's limit is its own.
#include "gtest/gtest.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/emulation/emulated_runtime.h"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/cuda/sgemm_test_support.h"

namespace convd::cuda {
namespace {

using sgemm_testing::Case;
using sgemm_testing::ExpectMatchesFloat64;

constexpr int kSm120SharedMemoryPerBlockOptin = 99 << 10;

// Before the first launch, as the limit is the device's from the start.
class SmallSharedMemoryDevice : public ::testing::Environment {
 public:
  void SetUp() override {
    emulation::SetSharedMemoryPerBlockOptin(kSm120SharedMemoryPerBlockOptin);
  }
};
const ::testing::Environment* const kDevice =
    ::testing::AddGlobalTestEnvironment(new SmallSharedMemoryDevice);

class SgemmSharedLimitTest : public ::testing::TestWithParam<GemmMath> {};

INSTANTIATE_TEST_SUITE_P(TensorMaths, SgemmSharedLimitTest,
                         ::testing::Values(GemmMath::kTf32, GemmMath::kFp16),
                         sgemm_testing::MathName);

TEST_P(SgemmSharedLimitTest, RuleRunsTheRegisterStagedKernelWhereTensorTilesDoNotFit) {
  // 128x128 tiles by the rule (batches of a wave of them: 264 blocks on
  // the emulation's 132 SMs); ragged edges, aligned and unaligned rows.
  for (const Case& c : {Case{200, 250, 40, 0, 0, 66}, Case{250, 230, 40, 1, 3, 66}}) {
    const GemmShape shape{c.m, c.n, c.k, c.k, c.n, c.n, c.m * c.k, c.k * c.n, c.m * c.n, c.batch};
    const GemmKernelChoice rule = KernelChosenFor(shape);
    ASSERT_TRUE(rule.rows == 128 && rule.columns == 128) << c.m << " x " << c.n;
    ExpectMatchesFloat64(c, GetParam(), 2);
  }
  // The refused opt-in is not left behind for the next launch check.
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST_P(SgemmSharedLimitTest, TensorKernelStillRunsOnTilesThatFit) {
  // 55-88 KB of stages: under the 99 KB.
  for (const GemmKernelChoice choice :
       {GemmKernelChoice{64, 64, 3}, GemmKernelChoice{128, 64, 3}, GemmKernelChoice{64, 128, 3}}) {
    ExpectMatchesFloat64({200, 300, 40}, GetParam(), 2, 1, choice);
  }
}

TEST_P(SgemmSharedLimitTest, ChosenTensorKernelThatDoesNotFitIsAnError) {
  const GemmShape shape{200, 300, 40, 40, 300, 300, 0, 0, 0, 1};
  auto a = DeviceBuffer::Allocate(200 * 40);
  auto b = DeviceBuffer::Allocate(40 * 300);
  auto c = DeviceBuffer::Allocate(200 * 300);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(LaunchSgemm(shape, a->data(), b->data(), c->data(), {}, nullptr, GetParam(),
                        GemmWorkspace{nullptr, 0, 1, GemmKernelChoice{128, 128, 3}}),
            cudaErrorInvalidValue);
  // And the next product, the rule's (264 blocks of 128x128), is unharmed.
  ExpectMatchesFloat64({70, 90, 21, 0, 0, 264}, GetParam(), 1);
}

}  // namespace
}  // namespace convd::cuda
