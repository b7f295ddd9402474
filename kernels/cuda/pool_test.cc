// CUDA pooling, LRN and softmax against the float64 reference over the CPU
// tests' cases, on fresh random inputs. Skips cleanly without a GPU.
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/pool_launch.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/shape_grid.h"

namespace convd::cuda {
namespace {

using ::convd::testing::MaxRelativeError;
using ::convd::testing::RandomVector;

TEST(CudaPoolTest, MatchesTheReferenceForAllParameters) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  for (const auto& x : ::convd::testing::kPoolCases) {
    for (PoolMethod method : {PoolMethod::kMax, PoolMethod::kAverage}) {
      for (bool count_include_pad : {true, false}) {
        PoolParams p = ::convd::testing::ToPoolParams(x, method, count_include_pad);
        ASSERT_TRUE(ComputePoolOutput(p).ok()) << p.ToString();
        const std::vector<float> input = RandomVector(int64_t{p.n} * p.c * p.h * p.w);
        auto d_input = DeviceBuffer::FromHost(input);
        auto d_output = DeviceBuffer::Allocate(int64_t{p.n} * p.c * p.p * p.q);
        ASSERT_TRUE(d_input.ok() && d_output.ok());
        ASSERT_EQ(LaunchPool(ToDevicePool(p), d_input->data(), d_output->data(), nullptr),
                  cudaSuccess);
        auto output = d_output->ToHost();
        ASSERT_TRUE(output.ok());
        EXPECT_LE(MaxRelativeError(output->data(), reference::Pooling(p, input.data())), 1e-5)
            << p.ToString();
      }
    }
  }
}

TEST(CudaLrnTest, MatchesTheReference) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  for (int size : {1, 2, 5, 7}) {
    LrnParams p;
    p.n = 2, p.c = 11, p.h = 5, p.w = 7, p.size = size;
    p.alpha = 2e-4f, p.beta = 0.75f, p.k = 2.0f;
    const std::vector<float> input = RandomVector(int64_t{p.n} * p.c * p.h * p.w, -3, 3);
    auto d_input = DeviceBuffer::FromHost(input);
    auto d_output = DeviceBuffer::Allocate(static_cast<int64_t>(input.size()));
    ASSERT_TRUE(d_input.ok() && d_output.ok());
    ASSERT_EQ(LaunchLrn(p.n, p.c, int64_t{p.h} * p.w, p.size, p.alpha, p.beta, p.k,
                        d_input->data(), d_output->data(), nullptr),
              cudaSuccess);
    auto output = d_output->ToHost();
    ASSERT_TRUE(output.ok());
    EXPECT_LE(MaxRelativeError(output->data(), reference::Lrn(p, input.data())), 1e-5)
        << "size " << size;
  }
}

TEST(CudaSoftmaxTest, MatchesTheReferenceInPlaceToo) {
  if (!DeviceAvailable()) GTEST_SKIP() << DeviceDescription();
  struct Case {
    int n, c, plane;
  };
  for (const Case& x : {Case{1, 10, 1}, Case{3, 1000, 1}, Case{2, 7, 13}, Case{1, 1, 5}}) {
    for (bool log : {false, true}) {
      const std::vector<float> input = RandomVector(int64_t{x.n} * x.c * x.plane, -20, 20);
      auto buffer = DeviceBuffer::FromHost(input);
      ASSERT_TRUE(buffer.ok());
      ASSERT_EQ(LaunchSoftmax(x.n, x.c, x.plane, log, buffer->data(), buffer->data(), nullptr),
                cudaSuccess);
      auto output = buffer->ToHost();
      ASSERT_TRUE(output.ok());
      EXPECT_LE(MaxRelativeError(output->data(),
                                 reference::Softmax(input.data(), x.n, x.c, x.plane, log)),
                1e-5)
          << "n " << x.n << " c " << x.c << " plane " << x.plane << (log ? " log" : "");
    }
  }
}

}  // namespace
}  // namespace convd::cuda
