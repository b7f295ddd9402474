// PackedGemm, each build this CPU runs, against a float64 product on fresh
// random operands: shapes that leave partial row panels, last column panels of 1,
// 8 and 9-15 columns (the 8-wide kernel and the 16-wide one), pairs of
// panels and a panel left over (the AVX-512 build's two-panel kernel), several
// column, row and depth blocks (partial sums kept in C between depth
// blocks), row strides wider than the rows, and every epilogue.
#include "kernels/cpu/packed_gemm.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/aligned_buffer.h"
#include "kernels/cpu/cpu_build_testing.h"
#include "kernels/epilogue_inl.h"
#include "kernels/testing/numeric.h"

namespace convd::cpu {
namespace {

using ::convd::testing::MaxErrorRelativeTo;
using ::convd::testing::RandomVector;

struct Shape {
  int m, n, k;
  int ldb_extra, ldc_extra;
};

const Shape kShapes[] = {
    {1, 1, 1, 0, 0},      {5, 17, 3, 2, 1},    {6, 16, 256, 0, 0},  {7, 33, 257, 0, 3},
    {13, 250, 600, 5, 0}, {64, 300, 64, 0, 0}, {12, 529, 31, 1, 7}, {100, 49, 513, 0, 0},
    {200, 24, 40, 0, 0},  {97, 270, 20, 3, 0},
};

struct EpilogueCase {
  const char* name;
  bool use_epilogue, bias, residual;
  ActivationFunction activation;
};

const EpilogueCase kEpilogues[] = {
    {"none", false, false, false, {Activation::kNone}},
    {"bias", true, true, false, {Activation::kNone}},
    {"bias_relu", true, true, false, {Activation::kRelu}},
    {"residual_relu", true, false, true, {Activation::kRelu}},
    {"bias_residual_sigmoid", true, true, true, {Activation::kSigmoid}},
    {"bias_clip", true, true, false, {Activation::kClip, 0.0f, -0.25f, 0.5f}},
};

// Computes c = epilogue(A * b) for A [m x k] row-major (a) and packed
// (a_packed), b [k x n] with row stride ldb.
using GemmFunction =
    std::function<void(int m, int n, int k, const float* a, const float* a_packed, const float* b,
                       int ldb, float* c, int ldc, const GemmEpilogue& epilogue)>;

// B read in place, through the workspace.
template <typename Gemm>
GemmFunction Strided(Gemm gemm) {
  return [gemm](int m, int n, int k, const float*, const float* a_packed, const float* b, int ldb,
                float* c, int ldc, const GemmEpilogue& epilogue) {
    AlignedBuffer workspace(PackedGemmWorkspaceFloats());
    gemm(m, n, k, a_packed, b, ldb, c, ldc, epilogue, workspace.data());
  };
}

// B packed first.
template <typename Gemm>
GemmFunction Prepacked(Gemm gemm) {
  return [gemm](int m, int n, int k, const float*, const float* a_packed, const float* b, int ldb,
                float* c, int ldc, const GemmEpilogue& epilogue) {
    AlignedBuffer b_packed(PackedRightOperandFloats(n, k));
    PackGemmRightOperand(b, n, k, ldb, b_packed.data());
    gemm(m, n, k, a_packed, b_packed.data(), c, ldc, epilogue);
  };
}

// A read row-major, B packed from its transpose (as a fully connected
// layer's input).
template <typename Gemm>
GemmFunction RowMajorLeft(Gemm gemm) {
  return [gemm](int m, int n, int k, const float* a, const float*, const float* b, int ldb,
                float* c, int ldc, const GemmEpilogue& epilogue) {
    std::vector<float> bt(int64_t{n} * (k + 1));  // row stride k + 1
    for (int x = 0; x < k; ++x) {
      for (int j = 0; j < n; ++j) bt[int64_t{j} * (k + 1) + x] = b[int64_t{x} * ldb + j];
    }
    AlignedBuffer b_packed(PackedRightOperandFloats(n, k));
    PackGemmRightOperandTransposed(bt.data(), n, k, k + 1, b_packed.data());
    gemm(m, n, k, a, k, b_packed.data(), c, ldc, epilogue);
  };
}

void Check(const GemmFunction& gemm, const std::string& build) {
  for (const Shape& shape : kShapes) {
    const int m = shape.m, n = shape.n, k = shape.k;
    const int ldb = n + shape.ldb_extra, ldc = n + shape.ldc_extra;
    const int first_channel = 3;  // rows read bias[3 + row]
    const std::vector<float> a = RandomVector(int64_t{m} * k);
    const std::vector<float> b = RandomVector(int64_t{k} * ldb);
    const std::vector<float> bias = RandomVector(first_channel + m);
    const std::vector<float> residual = RandomVector(int64_t{m} * ldc);
    AlignedBuffer a_packed(PackedLeftOperandFloats(m, k));
    PackGemmLeftOperand(a.data(), m, k, k, a_packed.data());
    for (const EpilogueCase& e : kEpilogues) {
      SCOPED_TRACE(build + " " + e.name + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                   " k=" + std::to_string(k) + " ldb=" + std::to_string(ldb) +
                   " ldc=" + std::to_string(ldc));
      Epilogue epilogue;
      epilogue.bias = e.bias ? bias.data() : nullptr;
      epilogue.activation = e.activation;
      const GemmEpilogue gemm_epilogue{e.use_epilogue ? &epilogue : nullptr, first_channel,
                                       e.residual ? residual.data() : nullptr};
      // Columns past n in each row of C must be left alone.
      std::vector<float> c = RandomVector(int64_t{m} * ldc);
      const std::vector<float> c_before = c;
      gemm(m, n, k, a.data(), a_packed.data(), b.data(), ldb, c.data(), ldc, gemm_epilogue);

      std::vector<double> expected(n * int64_t{m}), scale(n * int64_t{m});
      std::vector<float> actual(n * int64_t{m});
      for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) {
          double sum = 0, magnitude = 0;
          for (int x = 0; x < k; ++x) {
            const double term = double{a[int64_t{i} * k + x]} * b[int64_t{x} * ldb + j];
            sum += term;
            magnitude += std::abs(term);
          }
          if (e.use_epilogue) {
            if (e.residual) sum += residual[int64_t{i} * ldc + j];
            if (e.bias) sum += bias[first_channel + i];
            magnitude += 2;
            sum = Activate(static_cast<float>(sum), e.activation);
          }
          expected[int64_t{i} * n + j] = sum;
          scale[int64_t{i} * n + j] = magnitude;
          actual[int64_t{i} * n + j] = c[int64_t{i} * ldc + j];
        }
        for (int j = n; j < ldc; ++j) {
          ASSERT_EQ(c[int64_t{i} * ldc + j], c_before[int64_t{i} * ldc + j])
              << "row " << i << " column " << j << " is past n";
        }
      }
      EXPECT_LT(MaxErrorRelativeTo(actual.data(), expected, scale), 1e-6);
    }
  }
}

TEST(PackedGemmTest, MatchesFloat64Product) { Check(Strided(&PackedGemm), "dispatched"); }

TEST(PackedGemmTest, PackedRightMatchesFloat64Product) {
  Check(Prepacked(&PackedGemmPackedRight), "dispatched, B packed");
}

TEST(PackedGemmTest, RowMajorLeftMatchesFloat64Product) {
  Check(RowMajorLeft(&RowMajorGemmPackedRight), "dispatched, A row-major");
}

// Each build on its own, where this CPU runs it: the dispatched tests
// above check only the widest.
class PackedGemmBuildTest : public CpuBuildTest<> {};

INSTANTIATE_TEST_SUITE_P(Builds, PackedGemmBuildTest, ::testing::ValuesIn(kAllCpuBuilds),
                         CpuBuildTestName);

TEST_P(PackedGemmBuildTest, MatchesFloat64Product) {
  const CpuBuild build = GetParam();
  Check(Strided([build](int m, int n, int k, const float* a_packed, const float* b, int ldb,
                        float* c, int ldc, const GemmEpilogue& epilogue, float* workspace) {
          PackedGemmForTesting(build, m, n, k, a_packed, b, ldb, c, ldc, epilogue, workspace);
        }),
        CpuBuildName(build));
}

TEST_P(PackedGemmBuildTest, PackedRightMatchesFloat64Product) {
  const CpuBuild build = GetParam();
  Check(Prepacked([build](int m, int n, int k, const float* a_packed, const float* b_packed,
                          float* c, int ldc, const GemmEpilogue& epilogue) {
          PackedGemmPackedRightForTesting(build, m, n, k, a_packed, b_packed, c, ldc, epilogue);
        }),
        std::string(CpuBuildName(build)) + ", B packed");
}

TEST_P(PackedGemmBuildTest, RowMajorLeftMatchesFloat64Product) {
  const CpuBuild build = GetParam();
  Check(RowMajorLeft([build](int m, int n, int k, const float* a, int lda, const float* b_packed,
                             float* c, int ldc, const GemmEpilogue& epilogue) {
          RowMajorGemmPackedRightForTesting(build, m, n, k, a, lda, b_packed, c, ldc, epilogue);
        }),
        std::string(CpuBuildName(build)) + ", A row-major");
}

TEST(PackedGemmTest, PackedLeftOperandPadsRowsWithZeros) {
  const int m = 7, k = 3;
  const std::vector<float> a = RandomVector(m * k);
  ASSERT_EQ(PackedLeftOperandFloats(m, k), 2 * kPackedGemmRows * k);
  std::vector<float> packed(PackedLeftOperandFloats(m, k), -1.0f);
  PackGemmLeftOperand(a.data(), m, k, k, packed.data());
  for (int row = 0; row < 2 * kPackedGemmRows; ++row) {
    for (int x = 0; x < k; ++x) {
      const float value = packed[(int64_t{row / kPackedGemmRows} * k + x) * kPackedGemmRows +
                                 row % kPackedGemmRows];
      EXPECT_EQ(value, row < m ? a[row * k + x] : 0.0f) << "row " << row << " column " << x;
    }
  }
}

TEST(PackedGemmTest, PackedRightOffsetSaysWherePackingPutsEachEntry) {
  for (const int n : {1, 8, 9, 16, 23, 24, 33, 270}) {
    const int k = 5, ldb = n + 2;
    const std::vector<float> b = RandomVector(int64_t{k} * ldb);
    std::vector<float> packed(PackedRightOperandFloats(n, k), -1.0f);
    PackGemmRightOperand(b.data(), n, k, ldb, packed.data());
    std::vector<bool> written(packed.size(), false);
    for (int x = 0; x < k; ++x) {
      for (int j = 0; j < n; ++j) {
        const int64_t offset = PackedRightOffset(n, k, x, j);
        ASSERT_LT(offset, static_cast<int64_t>(packed.size())) << "n " << n;
        EXPECT_EQ(packed[offset], b[int64_t{x} * ldb + j]) << "n " << n << " row " << x;
        written[offset] = true;
      }
    }
    // Whatever is not an entry is padding, and padding is zero.
    for (size_t i = 0; i < packed.size(); ++i) {
      if (!written[i]) {
        EXPECT_EQ(packed[i], 0.0f) << "n " << n << " float " << i;
      }
    }
  }
}

}  // namespace
}  // namespace convd::cpu
