// convd's own single-precision GEMM for the CPU backend, C = epilogue(A * B),
// with the epilogue (bias, residual, activation) applied as C is stored.
// Three forms, by where the operands come from:
//   PackedGemm: A (filters) packed once at load; B (an input plane or
//     unrolled patches) read in place with any row stride, packed a block
//     at a time into the caller's workspace (im2col).
//   PackedGemmPackedRight: both packed ahead (Winograd: U at load, V by
//     the input transform).
//   RowMajorGemmPackedRight: A row-major as given, B packed ahead (fully
//     connected layers at batch 2+).
// Against OpenBLAS followed by a separate epilogue pass it saves the pass
// over C, OpenBLAS's own pass that clears C for beta = 0, and its per-call
// packing of A (bench/RESULTS.md, "convd's own GEMM for im2col and
// Winograd", "Fully connected layers at batch 2+").
//
// The kernel computes kPackedGemmRows x 16 of C at a time in registers
// (x 32 in the AVX-512 build). It is compiled three times: for the build's
// baseline (SSE), for AVX2 + FMA and for AVX-512, the widest the CPU runs
// chosen at run time (cpu_features.h).
//
// Thread safety: the functions keep no state; concurrent calls need
// their own workspaces and outputs.
#ifndef CONVD_KERNELS_CPU_PACKED_GEMM_H_
#define CONVD_KERNELS_CPU_PACKED_GEMM_H_

#include <cstdint>

#include "kernels/cpu/cpu_features.h"
#include "kernels/op_params.h"

namespace convd::cpu {

// Rows of A per packed panel; columns of B per packed panel, but for a
// last panel of kPackedGemmNarrowColumns or fewer, which is that wide.
inline constexpr int kPackedGemmRows = 6;
inline constexpr int kPackedGemmColumns = 16;
inline constexpr int kPackedGemmNarrowColumns = 8;

// Floats PackGemmLeftOperand writes for an m x k matrix: m rounded up to
// whole panels.
int64_t PackedLeftOperandFloats(int m, int k);

// Packs row-major a [m x k] (row stride lda >= k) into panels of
// kPackedGemmRows rows, each [k][kPackedGemmRows]; rows past m are zeros.
// `packed` holds PackedLeftOperandFloats(m, k) floats. Rows [r, m), for r
// a multiple of kPackedGemmRows, are the packed operand from packed + r * k.
void PackGemmLeftOperand(const float* a, int m, int k, int lda, float* packed);

// Workspace floats PackedGemm needs, whatever n and k: one packed block of B.
int64_t PackedGemmWorkspaceFloats();

// What happens to C as it is stored. Row i of C is output channel
// first_channel + i: it gets epilogue.bias[first_channel + i] (if bias is
// set) and then epilogue.activation. `residual`, if not null, is added
// before the bias and is laid out like C (the same ldc). epilogue.residual
// is ignored: the caller points `residual` at the rows of this product.
struct GemmEpilogue {
  const Epilogue* epilogue = nullptr;  // null: store A * B as it is
  int first_channel = 0;
  const float* residual = nullptr;
};

// c [m x n] (row stride ldc) = epilogue(A * b), A [m x k] as packed by
// PackGemmLeftOperand, b [k x n] row-major with row stride ldb >= n.
// `workspace`: PackedGemmWorkspaceFloats() floats, 64-byte aligned.
// m, n, k >= 1; c must not overlap a, b or the workspace.
void PackedGemm(int m, int n, int k, const float* a_packed, const float* b, int ldb, float* c,
                int ldc, const GemmEpilogue& epilogue, float* workspace);

// B packed ahead, for a producer that can write it in the kernel's layout
// as cheaply as row-major (Winograd's input transform): panels of
// kPackedGemmColumns columns (the last maybe kPackedGemmNarrowColumns),
// each [k][panel width]; PackedRightOffset says where an entry goes.
// Columns past n in the last panel are computed but never stored, so their
// values may be anything finite.
inline int PackedPanelWidth(int columns_left) {
  return columns_left <= kPackedGemmNarrowColumns ? kPackedGemmNarrowColumns : kPackedGemmColumns;
}
// Row x, column j of a packed k x n matrix.
inline int64_t PackedRightOffset(int n, int k, int x, int j) {
  const int panel = j / kPackedGemmColumns * kPackedGemmColumns;
  return int64_t{panel} * k + int64_t{x} * PackedPanelWidth(n - panel) + (j - panel);
}
// Columns the panels of an n-column matrix span: n and the last panel's
// padding.
inline int PackedRightColumns(int n) {
  const int last_panel = (n - 1) / kPackedGemmColumns * kPackedGemmColumns;
  return last_panel + PackedPanelWidth(n - last_panel);
}
inline int64_t PackedRightOperandFloats(int n, int k) { return int64_t{PackedRightColumns(n)} * k; }
// Packs row-major b [k x n] (row stride ldb >= n); columns past n are zeros.
void PackGemmRightOperand(const float* b, int n, int k, int ldb, float* packed);

// c [m x n] (row stride ldc) = epilogue(A * B), both packed; no workspace.
void PackedGemmPackedRight(int m, int n, int k, const float* a_packed, const float* b_packed,
                           float* c, int ldc, const GemmEpilogue& epilogue);

// Packs B [k x n] given as its transpose bt [n x k] (row stride ld >= k):
// a fully connected layer's input rows become B's columns.
void PackGemmRightOperandTransposed(const float* bt, int n, int k, int ld, float* packed);

// c [m x n] (row stride ldc) = epilogue(A * B), A row-major as given (row
// stride lda >= k), B packed; no workspace. For a left operand read once
// or twice per call (a fully connected layer's weights at a small batch),
// where packing it would cost a copy as large as the product's reads; each
// kernel reads six of A's rows as six streams.
void RowMajorGemmPackedRight(int m, int n, int k, const float* a, int lda, const float* b_packed,
                             float* c, int ldc, const GemmEpilogue& epilogue);

// One build (cpu_features.h), whatever the widest this CPU has: for tests,
// so that every build the CPU can run is checked. The CPU must support
// `build`.
void PackedGemmForTesting(CpuBuild build, int m, int n, int k, const float* a_packed,
                          const float* b, int ldb, float* c, int ldc, const GemmEpilogue& epilogue,
                          float* workspace);
void PackedGemmPackedRightForTesting(CpuBuild build, int m, int n, int k, const float* a_packed,
                                     const float* b_packed, float* c, int ldc,
                                     const GemmEpilogue& epilogue);
void RowMajorGemmPackedRightForTesting(CpuBuild build, int m, int n, int k, const float* a, int lda,
                                       const float* b_packed, float* c, int ldc,
                                       const GemmEpilogue& epilogue);

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_PACKED_GEMM_H_
