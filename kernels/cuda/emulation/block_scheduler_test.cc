// The emulation itself: built-in variables, barriers, dynamic shared
// memory, cp.async's alignment, launch errors, and the mma and ldmatrix
// fragment layouts, on kernels written here (compiled as the .cu files are:
// EMULATION_COPTS force-include cuda_emulation.h).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/launch.cuh"

namespace convd::cuda::emulation {
namespace {

__global__ void RecordIndices(uint32_t* out) {
  const unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  const unsigned slot = block * blockDim.x * blockDim.y * blockDim.z + thread;
  // Each index in 4 bits, to check every one came out right.
  out[slot] += 1u << 24 | blockIdx.z << 20 | blockIdx.y << 16 | blockIdx.x << 12 |
               threadIdx.z << 8 | threadIdx.y << 4 | threadIdx.x;
}

TEST(BlockSchedulerTest, EveryThreadRunsOnceWithItsIndices) {
  const dim3 grid(3, 2, 2), block(5, 3, 2);
  std::vector<uint32_t> out(3 * 2 * 2 * 5 * 3 * 2, 0);
  CONVD_LAUNCH(grid, block, nullptr, RecordIndices, out.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  size_t slot = 0;
  for (uint32_t bz = 0; bz < 2; ++bz) {
    for (uint32_t by = 0; by < 2; ++by) {
      for (uint32_t bx = 0; bx < 3; ++bx) {
        for (uint32_t tz = 0; tz < 2; ++tz) {
          for (uint32_t ty = 0; ty < 3; ++ty) {
            for (uint32_t tx = 0; tx < 5; ++tx, ++slot) {
              EXPECT_EQ(out[slot],
                        1u << 24 | bz << 20 | by << 16 | bx << 12 | tz << 8 | ty << 4 | tx)
                  << "slot " << slot;
            }
          }
        }
      }
    }
  }
}

// Reverses each block's values through shared memory: right only if every
// thread's write lands before any thread's read (the barrier).
__global__ void ReverseThroughShared(const int* in, int* out) {
  __shared__ int staged[64];
  const int base = blockIdx.x * 64;
  staged[threadIdx.x] = in[base + threadIdx.x];
  __syncthreads();
  out[base + threadIdx.x] = staged[63 - threadIdx.x];
}

TEST(BlockSchedulerTest, ABarrierSeparatesPhasesInEitherThreadOrder) {
  std::vector<int> in(4 * 64), out(in.size(), -1);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int>(i * 7 + 3);
  // Blocks 0 and 2 run their threads in index order, 1 and 3 in reverse.
  CONVD_LAUNCH(4, 64, nullptr, ReverseThroughShared, in.data(), out.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (int b = 0; b < 4; ++b) {
    for (int t = 0; t < 64; ++t) EXPECT_EQ(out[b * 64 + t], in[b * 64 + 63 - t]);
  }
}

// Reads each float of the block's dynamic shared memory before anyone
// writes it, then reverses the block's index through it.
__global__ void ReadThenReverseThroughDynamicShared(float* out) {
  CONVD_DYNAMIC_SHARED(staged, 64 * sizeof(float));
  const unsigned t = threadIdx.x;
  out[blockIdx.x * 64 + t] = staged[t];
  __syncthreads();
  staged[63 - t] = static_cast<float>(blockIdx.x * 100 + t);
  __syncthreads();
  out[(gridDim.x + blockIdx.x) * 64 + t] = staged[t];
}

TEST(BlockSchedulerTest, DynamicSharedMemoryIsTheBlocksAndStartsAsNan) {
  std::vector<float> out(2 * 2 * 64, 0.0f);
  CONVD_LAUNCH_SHARED(2, 64, 64 * sizeof(float), nullptr, ReadThenReverseThroughDynamicShared,
                      out.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (int b = 0; b < 2; ++b) {
    for (int t = 0; t < 64; ++t) {
      // Block 1 too: what block 0 left is not there to be read.
      EXPECT_TRUE(std::isnan(out[b * 64 + t])) << b << " " << t;
      EXPECT_EQ(out[(2 + b) * 64 + t], b * 100 + 63 - t);
    }
  }
}

// Writes its block's dynamic shared memory's last float out.
__global__ void WriteLastDynamicShared(unsigned bytes, float* out) {
  CONVD_DYNAMIC_SHARED(staged, bytes);
  staged[bytes / sizeof(float) - 1] = 7.0f;
  *out = staged[bytes / sizeof(float) - 1];
}

TEST(BlockSchedulerTest, DynamicSharedMemoryAbove48KbNeedsTheKernelsOptIn) {
  const void* kernel = reinterpret_cast<const void*>(WriteLastDynamicShared);
  constexpr unsigned kBytes = 100 << 10;
  float out = 0.0f;
  CONVD_LAUNCH_SHARED(1, 1, 48u << 10, nullptr, WriteLastDynamicShared, 48u << 10, &out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(out, 7.0f);
  out = 0.0f;
  CONVD_LAUNCH_SHARED(1, 1, kBytes, nullptr, WriteLastDynamicShared, kBytes, &out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(out, 0.0f);  // nothing ran
  // Beyond the device's limit (an H100's 227 KB) the opt-in is refused.
  int optin = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0),
            cudaSuccess);
  EXPECT_EQ(optin, 227 << 10);
  EXPECT_EQ(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, optin + 1),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);  // left behind, as by the runtime
  ASSERT_EQ(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes),
            cudaSuccess);
  CONVD_LAUNCH_SHARED(1, 1, kBytes, nullptr, WriteLastDynamicShared, kBytes, &out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(out, 7.0f);
  CONVD_LAUNCH_SHARED(1, 1, kBytes + 4, nullptr, WriteLastDynamicShared, kBytes + 4, &out);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);  // more than it opted in to
}

// One thread's 16-byte cp.async from `source` into dynamic shared memory,
// waited for and copied out.
__global__ void CopySixteenBytes(const float* source, float* out) {
  CONVD_DYNAMIC_SHARED(staged, 4 * sizeof(float));
  AsyncCopy(staged, source, 16, 16);
  AsyncCommit();
  AsyncWait(0);
  for (int i = 0; i < 4; ++i) out[i] = staged[i];
}

TEST(BlockSchedulerDeathTest, SixteenByteCopiesMustBeAligned) {
  alignas(16) const float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  float out[4] = {};
  CONVD_LAUNCH_SHARED(1, 1, 16, nullptr, CopySixteenBytes, data + 4, out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(out[0], 5.0f);
  EXPECT_EQ(out[3], 8.0f);
  // Misaligned by one float: the device faults, losing the context (so in
  // a child process).
  EXPECT_EXIT(
      {
        CONVD_LAUNCH_SHARED(1, 1, 16, nullptr, CopySixteenBytes, data + 1, out);
        std::exit(ContextError() == cudaErrorLaunchFailure ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(BlockSchedulerTest, ConfigurationsTheHardwareRefusesAreLaunchErrors) {
  std::vector<uint32_t> out(8, 0);
  CONVD_LAUNCH(1, 2048, nullptr, RecordIndices, out.data());  // > 1024 threads
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // read and cleared
  CONVD_LAUNCH(dim3(1, 70000), 1, nullptr, RecordIndices, out.data());
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(out, std::vector<uint32_t>(8, 0)) << "nothing ran";
}

// One mma per warp: m16n8k8 on TF32 or FP16, or m16n8k16 on FP16. A is
// [16][16] (k8 uses its first 8 columns), B [16][8], C and D [16][8]. Each
// lane gathers its fragments with the PTX ISA's formulas (row = groupID +
// 8 * (i % 2) for A's a_i, ...), not the tables the emulation lists.
enum class MmaShape { kTf32K8, kFp16K8, kFp16K16 };

__global__ void MmaTile(const float* a, const float* b, const float* c, float* d, MmaShape shape) {
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  float acc[4];
  for (int i = 0; i < 4; ++i) acc[i] = c[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2];
  auto half_bits = [](float x) {
    return static_cast<uint32_t>(std::bit_cast<uint16_t>(static_cast<_Float16>(x)));
  };
  // Two FP16 elements, the first in the low half.
  auto pair = [&](float low, float high) { return half_bits(low) | half_bits(high) << 16; };
  if (shape == MmaShape::kFp16K8) {
    uint32_t a_pairs[2];
    for (int i = 0; i < 2; ++i) {
      const float* row = a + (g + 8 * i) * 16 + 2 * t;
      a_pairs[i] = pair(row[0], row[1]);
    }
    MmaFp16(acc, a_pairs, pair(b[(2 * t) * 8 + g], b[(2 * t + 1) * 8 + g]));
  } else if (shape == MmaShape::kFp16K16) {
    // a_i's pair: row g + 8 * (i % 2), columns 2t + 8 * (i / 2) and the next;
    // b_i's: rows 2t + 8i and the next, column g.
    uint32_t a_pairs[4], b_pairs[2];
    for (int i = 0; i < 4; ++i) {
      const float* row = a + (g + 8 * (i % 2)) * 16 + 2 * t + 8 * (i / 2);
      a_pairs[i] = pair(row[0], row[1]);
    }
    for (int i = 0; i < 2; ++i) {
      b_pairs[i] = pair(b[(2 * t + 8 * i) * 8 + g], b[(2 * t + 8 * i + 1) * 8 + g]);
    }
    MmaFp16K16(acc, a_pairs, b_pairs);
  } else {
    float a_fragment[4], b_fragment[2];
    for (int i = 0; i < 4; ++i) a_fragment[i] = a[(g + 8 * (i % 2)) * 16 + t + 4 * (i / 2)];
    for (int i = 0; i < 2; ++i) b_fragment[i] = b[(t + 4 * i) * 8 + g];
    MmaTf32(acc, a_fragment, b_fragment);
  }
  for (int i = 0; i < 4; ++i) d[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2] = acc[i];
}

TEST(WarpEmulationTest, MmaComputesTheTileProductInThePtxLayouts) {
  std::mt19937 rng(7);
  // Multiples of 1/8 in [-2, 2]: exact in TF32 and FP16, so products and
  // sums of sixteen are exact and the result must equal the float64 one.
  std::uniform_int_distribution<int> eighths(-16, 16);
  std::vector<float> a(16 * 16), b(16 * 8), c(16 * 8);
  for (float& x : a) x = eighths(rng) / 8.0f;
  for (float& x : b) x = eighths(rng) / 8.0f;
  for (float& x : c) x = eighths(rng) / 8.0f;
  for (MmaShape shape : {MmaShape::kTf32K8, MmaShape::kFp16K8, MmaShape::kFp16K16}) {
    const int k_size = shape == MmaShape::kFp16K16 ? 16 : 8;
    std::vector<float> d(16 * 8, 0.0f);
    CONVD_LAUNCH(1, 32, nullptr, MmaTile, a.data(), b.data(), c.data(), d.data(), shape);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    for (int i = 0; i < 16; ++i) {
      for (int j = 0; j < 8; ++j) {
        double expected = c[i * 8 + j];
        for (int k = 0; k < k_size; ++k) expected += double{a[i * 16 + k]} * b[k * 8 + j];
        EXPECT_EQ(d[i * 8 + j], expected)
            << static_cast<int>(shape) << " D[" << i << "][" << j << "]";
      }
    }
  }
}

// ldmatrix .x4 on 32-bit data: 32 rows of 8 floats in shared memory; lane
// L gives row L % 8 of block L / 8, kept at row (L % 8) * 4 + L / 8 (so
// that the addresses, not the order, say where each block is) and float 4
// on (so that the offset counts).
__global__ void LoadFourBlocks(const float* source, uint32_t* out) {
  CONVD_DYNAMIC_SHARED(staged, 32 * 8 * sizeof(float));
  const int lane = threadIdx.x;
  for (int e = 0; e < 8; ++e) staged[lane * 8 + e] = source[lane * 8 + e];
  __syncthreads();
  uint32_t r[4];
  LoadMatrixX4(r, staged + ((lane % 8) * 4 + lane / 8) * 8 + 4);
  for (int i = 0; i < 4; ++i) out[lane * 4 + i] = r[i];
}

TEST(WarpEmulationTest, LoadMatrixGivesEachLaneItsElementOfEachBlock) {
  std::vector<float> source(32 * 8);
  for (size_t i = 0; i < source.size(); ++i) source[i] = static_cast<float>(i) + 0.5f;
  std::vector<uint32_t> out(32 * 4, 0);
  CONVD_LAUNCH_SHARED(1, 32, 32 * 8 * sizeof(float), nullptr, LoadFourBlocks, source.data(),
                      out.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 4; ++i) {
      // Element [lane / 4][lane % 4] of block i: its row lane / 4.
      const float expected = source[((lane / 4) * 4 + i) * 8 + 4 + lane % 4];
      EXPECT_EQ(std::bit_cast<float>(out[lane * 4 + i]), expected) << lane << " " << i;
    }
  }
}

TEST(WarpEmulationTest, Tf32RoundingIsToNearestTiesAway) {
  // 1 + 2^-11 is halfway between two TF32 values (steps of 2^-10 near 1).
  EXPECT_EQ(RoundToTf32(1.0f + 0x1p-11f), 1.0f + 0x1p-10f);
  EXPECT_EQ(RoundToTf32(-(1.0f + 0x1p-11f)), -(1.0f + 0x1p-10f));
  EXPECT_EQ(RoundToTf32(1.0f + 0x1p-12f), 1.0f);
  EXPECT_EQ(RoundToTf32(1.0f + 0x1p-11f + 0x1p-20f), 1.0f + 0x1p-10f);
}

}  // namespace
}  // namespace convd::cuda::emulation
