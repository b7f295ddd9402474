// Blocking (BLIS's loop order): for each block of up to kBlockColumns
// columns of B and kBlockDepth of its rows, the block is packed into the
// workspace as panels of 16 columns, [panel][row][16] (256 KB: it stays in
// L2). Then for each kBlockRows rows of A (96 KB, also kept in L2) and each
// panel of B (16 KB: it stays in L1) the kernel runs over those rows' A
// panels, which the packing at load made contiguous. Products deeper than
// kBlockDepth are cut into equal blocks and leave partial sums in C between
// them; the epilogue applies after the last. A last panel of up to 8
// columns is packed 8 wide and has a kernel of its own, so a 7x7 plane (49
// columns) computes 56 columns, not 64. B packed ahead (PackedGemmPackedRight)
// skips the packing: its panels are read where they are. The AVX-512 build
// multiplies each A panel by two B panels at a time (below).
#include "kernels/cpu/packed_gemm.h"

#include <algorithm>
#include <limits>

#include "kernels/cpu/cpu_features.h"
#include "kernels/epilogue_inl.h"

namespace convd::cpu {
namespace {

constexpr int kRows = kPackedGemmRows;
constexpr int kLanes = kPackedGemmNarrowColumns;
constexpr int kColumns = kPackedGemmColumns;  // of a B panel and of the kernel's tile
static_assert(kColumns == 2 * kLanes, "the kernel keeps two vectors a row");
constexpr int kBlockDepth = 256;
constexpr int kBlockColumns = 256;
constexpr int kBlockRows = 16 * kRows;
// How far ahead the kernels prefetch A, in rows of its panel (384 bytes).
// Where the product is a stream of A (Winograd at batch 1: VGG-16's
// 512-channel layers read 38 MB of filters for 16 tiles) the hardware's
// prefetch alone left the layer about 8% slower.
constexpr int kPrefetchRows = 16;
static_assert(kBlockColumns % kColumns == 0);

// Vectors of kWidth floats, unaligned (the typedef lowers the alignment to
// a float's) and may_alias: B and C rows start anywhere. (A trait, not a
// type passed to templates: a template argument would lose the attributes.)
template <int kWidth>
struct Floats {
  typedef float Vector __attribute__((vector_size(kWidth * sizeof(float)), aligned(4), may_alias));
};
typedef Floats<kLanes>::Vector Vec;

// Always inlined, so each build has its own and no vector crosses a call:
// GCC's -Wpsabi warning, that such a call's ABI would differ between the
// builds, does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
template <int kWidth = kLanes>
[[gnu::always_inline]] inline typename Floats<kWidth>::Vector Load(const float* p) {
  return *reinterpret_cast<const typename Floats<kWidth>::Vector*>(p);
}
template <int kWidth = kLanes>
[[gnu::always_inline]] inline void Store(float* p, typename Floats<kWidth>::Vector v) {
  *reinterpret_cast<typename Floats<kWidth>::Vector*>(p) = v;
}

// Copies b [depth x columns] (row stride ldb) into panels of kColumns
// columns (the last PackedPanelWidth wide), zero-padding the last.
[[gnu::always_inline]] inline void PackBlock(const float* b, int ldb, int depth, int columns,
                                             float* packed) {
  for (int j = 0; j < columns; j += kColumns) {
    float* panel = packed + int64_t{j} * depth;
    const int width = std::min(kColumns, columns - j);
    const int panel_width = PackedPanelWidth(columns - j);
    if (width == kColumns) {
      for (int row = 0; row < depth; ++row) {
        const float* from = b + int64_t{row} * ldb + j;
        Store(panel + row * kColumns, Load(from));
        Store(panel + row * kColumns + kLanes, Load(from + kLanes));
      }
    } else {
      for (int row = 0; row < depth; ++row) {
        const float* from = b + int64_t{row} * ldb + j;
        float* to = panel + row * panel_width;
        std::copy(from, from + width, to);
        std::fill(to + width, to + panel_width, 0.0f);
      }
    }
  }
}

// Two tiles of kRows x kWidth at once: out0 = A panel a0 x B columns b0,
// out1 = a1 x b1 (B's rows and the outputs' kColumns floats apart).
// Twelve named accumulators: GCC kept an array of them in memory, storing
// each one every iteration, at half the speed. Inlined, an operand given
// twice is loaded once.
template <int kWidth, typename LeftPanel>
[[gnu::always_inline]] inline void MultiplyTwoTiles(int depth, const LeftPanel& a0,
                                                    const LeftPanel& a1, const float* b0,
                                                    const float* b1, float* out0, float* out1) {
  typedef typename Floats<kWidth>::Vector V;
  V c00{}, c01{}, c10{}, c11{}, c20{}, c21{}, c30{}, c31{}, c40{}, c41{}, c50{}, c51{};
  for (int i = 0; i < depth; ++i) {
    const V b0_row = Load<kWidth>(b0 + i * kColumns), b1_row = Load<kWidth>(b1 + i * kColumns);
    a0.Prefetch(i);
    if (&a0 != &a1) a1.Prefetch(i);
#define CONVD_GEMM_ROW(r)          \
  c##r##0 += a0.At(i, r) * b0_row; \
  c##r##1 += a1.At(i, r) * b1_row;
    CONVD_GEMM_ROW(0)
    CONVD_GEMM_ROW(1)
    CONVD_GEMM_ROW(2)
    CONVD_GEMM_ROW(3)
    CONVD_GEMM_ROW(4)
    CONVD_GEMM_ROW(5)
#undef CONVD_GEMM_ROW
  }
  const V rows[kRows][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int r = 0; r < kRows; ++r) {
    Store<kWidth>(out0 + r * kColumns, rows[r][0]);
    Store<kWidth>(out1 + r * kColumns, rows[r][1]);
  }
}

// tile = A panel [depth][kRows] x B panel [depth][kColumns]: its two halves
// of kLanes columns as the two tiles.
template <typename LeftPanel>
[[gnu::always_inline]] inline void MultiplyPanels(int depth, const LeftPanel& a, const float* b,
                                                  float (&tile)[kRows][kColumns]) {
  MultiplyTwoTiles<kLanes>(depth, a, a, b, b + kLanes, tile[0], tile[0] + kLanes);
}

// AVX-512: a register holds a whole row of a B panel, so one panel by one
// would leave six 16-float accumulators, too few to cover the FMA's
// latency on two units. Two tiles at once instead, tiles[t] = A panel a[t]
// x B panel b[t], twelve accumulators (as many as MultiplyPanels has of 8
// floats, for twice the work an FMA):
//   - one A panel by two B panels side by side (a0 = a1: 6 x 32 of C; two
//     loads of B and six broadcasts of A feed twelve FMAs);
//   - two A panels by a B panel left on its own (b0 = b1: 12 x 16 of C;
//     products of up to 16 columns, as Winograd's at batch 1).
template <typename LeftPanel>
[[gnu::always_inline]] inline void MultiplyTilePair(int depth, const LeftPanel& a0,
                                                    const LeftPanel& a1, const float* b0,
                                                    const float* b1,
                                                    float (&tiles)[2][kRows][kColumns]) {
  MultiplyTwoTiles<kColumns>(depth, a0, a1, b0, b1, tiles[0][0], tiles[1][0]);
}

// The first kLanes columns of `tile` = A panel x B panel [depth][kLanes].
template <typename LeftPanel>
[[gnu::always_inline]] inline void MultiplyNarrowPanels(int depth, const LeftPanel& a,
                                                        const float* b,
                                                        float (&tile)[kRows][kColumns]) {
  Vec c0{}, c1{}, c2{}, c3{}, c4{}, c5{};
  for (int i = 0; i < depth; ++i) {
    const Vec b0 = Load(b + i * kLanes);
    a.Prefetch(i);
    c0 += a.At(i, 0) * b0;
    c1 += a.At(i, 1) * b0;
    c2 += a.At(i, 2) * b0;
    c3 += a.At(i, 3) * b0;
    c4 += a.At(i, 4) * b0;
    c5 += a.At(i, 5) * b0;
  }
  const Vec rows[kRows] = {c0, c1, c2, c3, c4, c5};
  for (int r = 0; r < kRows; ++r) Store(tile[r], rows[r]);
}

// Stores rows [0, rows) and columns [0, columns) of `tile` at c, adding
// what c holds unless `first`, and applying the epilogue if `last`.
// `row0`: the tile's first row in the whole product (its channel offset).
[[gnu::always_inline]] inline void StoreTile(const float (&tile)[kRows][kColumns], int rows,
                                             int columns, bool first, bool last, float* c, int ldc,
                                             const GemmEpilogue& e, int row0) {
  const Epilogue* epilogue = last ? e.epilogue : nullptr;
  const Activation activation = epilogue ? epilogue->activation.type : Activation::kNone;
  const bool vector_path =
      columns == kColumns && (activation == Activation::kNone || activation == Activation::kRelu);
  for (int r = 0; r < rows; ++r) {
    float* to = c + int64_t{r} * ldc;
    const float* residual = epilogue && e.residual ? e.residual + int64_t{row0 + r} * ldc : nullptr;
    const float bias =
        epilogue && epilogue->bias ? epilogue->bias[e.first_channel + row0 + r] : 0.0f;
    if (vector_path) {
      Vec v0 = Load(tile[r]), v1 = Load(tile[r] + kLanes);
      if (!first) {
        v0 += Load(to);
        v1 += Load(to + kLanes);
      }
      if (residual) {
        v0 += Load(residual);
        v1 += Load(residual + kLanes);
      }
      v0 += bias;
      v1 += bias;
      if (activation == Activation::kRelu) {
        const Vec zero{};
        v0 = v0 > zero ? v0 : zero;
        v1 = v1 > zero ? v1 : zero;
      }
      Store(to, v0);
      Store(to + kLanes, v1);
    } else {
      for (int j = 0; j < columns; ++j) {
        float v = tile[r][j];
        if (!first) v += to[j];
        if (epilogue) {
          if (residual) v += residual[j];
          v = Activate(v + bias, epilogue->activation);
        }
        to[j] = v;
      }
    }
  }
}

// StoreTile for the tile at row ir, column j of the whole product. (A
// function, not a lambda in Gemm: a lambda is not built for its caller's
// target, so it was called, not inlined, and ran the baseline's code.)
[[gnu::always_inline]] inline void StoreTileAt(const float (&tile)[kRows][kColumns], int ir, int j,
                                               int columns, int m, bool first, bool last, float* c,
                                               int ldc, const GemmEpilogue& e) {
  StoreTile(tile, std::min(kRows, m - ir), columns, first, last, c + int64_t{ir} * ldc + j, ldc,
            {e.epilogue, e.first_channel, e.residual ? e.residual + j : nullptr}, ir);
}

// kRows rows of A from depth offset pc on, as the kernels read them:
// At(i, r) is row r's entry i.
struct PackedLeftPanel {
  const float* a;  // [i][kRows]
  float At(int i, int r) const { return a[i * kRows + r]; }
  void Prefetch(int i) const { __builtin_prefetch(a + (i + kPrefetchRows) * kRows); }
};
struct RowMajorLeftPanel {
  const float* rows[kRows];
  float At(int i, int r) const { return rows[r][i]; }
  // Six sequential streams: the hardware's prefetchers follow them.
  void Prefetch(int) const {}
};

// A packed at load (PackGemmLeftOperand).
struct PackedLeft {
  static constexpr int kMaxDepth = kBlockDepth;
  const float* a_packed;
  int k;
  PackedLeftPanel Panel(int ir, int pc) const {
    return {a_packed + (int64_t{ir / kRows} * k + pc) * kRows};
  }
};

// A row-major as given (row stride lda), m rows: the rows of a last,
// partial panel past m repeat row m - 1, whose results are not stored.
struct RowMajorLeft {
  // Each row of A read front to back in one go, a stream the hardware
  // prefetches well: with 256-deep blocks AlexNet's fc6 at batch 8 took
  // 7.4 ms, in one block 5.8-6.0. Only with B packed ahead, whole.
  static constexpr int kMaxDepth = std::numeric_limits<int>::max();
  const float* a;
  int lda, m;
  RowMajorLeftPanel Panel(int ir, int pc) const {
    RowMajorLeftPanel panel;
    for (int r = 0; r < kRows; ++r) {
      panel.rows[r] = a + int64_t{std::min(ir + r, m - 1)} * lda + pc;
    }
    return panel;
  }
};

// B in memory with any row stride: each block is packed into the workspace.
struct StridedRight {
  const float* b;
  int ldb;
  float* workspace;

  void Prepare(int pc, int depth, int jc, int block_columns) const {
    PackBlock(b + int64_t{pc} * ldb + jc, ldb, depth, block_columns, workspace);
  }
  const float* Panel(int /*pc*/, int depth, int /*jc*/, int jr, int /*columns_left*/) const {
    return workspace + int64_t{jr} * depth;
  }
};

// B already packed as PackedRightOffset says, whole.
struct PrepackedRight {
  const float* b_packed;
  int k;

  void Prepare(int, int, int, int) const {}
  const float* Panel(int pc, int /*depth*/, int jc, int jr, int columns_left) const {
    return b_packed + int64_t{jc + jr} * k + int64_t{pc} * PackedPanelWidth(columns_left);
  }
};

// `kPanelPairs` (the AVX-512 build): multiply two full B panels at a time
// where there are two, and two A panels by a full B panel left on its own
// (MultiplyTilePair).
template <bool kPanelPairs, typename Left, typename Right>
[[gnu::always_inline]] inline void Gemm(int m, int n, int k, const Left& left, const Right& right,
                                        float* c, int ldc, const GemmEpilogue& epilogue) {
  const int depth_blocks = (k - 1) / Left::kMaxDepth + 1;  // k >= 1; no overflow
  const int block_depth = (k + depth_blocks - 1) / depth_blocks;
  for (int jc = 0; jc < n; jc += kBlockColumns) {
    const int block_columns = std::min(kBlockColumns, n - jc);
    for (int pc = 0; pc < k; pc += block_depth) {
      const int depth = std::min(block_depth, k - pc);
      right.Prepare(pc, depth, jc, block_columns);
      const bool first = pc == 0, last = pc + depth == k;
      for (int ic = 0; ic < m; ic += kBlockRows) {
        const int rows_end = std::min(m, ic + kBlockRows);
        for (int jr = 0; jr < block_columns;) {
          // Blocks hold whole panels, so the columns left in this block are
          // the columns left in B unless there are more than a panel's.
          const int columns_left = block_columns - jr;
          const float* b_panel = right.Panel(pc, depth, jc, jr, columns_left);
          // A pair: the second panel is a full-width one too.
          if (kPanelPairs && columns_left > kColumns + kLanes) {
            const float* b_second =
                right.Panel(pc, depth, jc, jr + kColumns, columns_left - kColumns);
            const int second_columns = std::min(kColumns, columns_left - kColumns);
            for (int ir = ic; ir < rows_end; ir += kRows) {
              float tiles[2][kRows][kColumns];
              const auto a_panel = left.Panel(ir, pc);
              MultiplyTilePair(depth, a_panel, a_panel, b_panel, b_second, tiles);
              StoreTileAt(tiles[0], ir, jc + jr, kColumns, m, first, last, c, ldc, epilogue);
              StoreTileAt(tiles[1], ir, jc + jr + kColumns, second_columns, m, first, last, c, ldc,
                          epilogue);
            }
            jr += 2 * kColumns;
            continue;
          }
          const int columns = std::min(kColumns, columns_left);
          const bool narrow = PackedPanelWidth(columns_left) == kLanes;
          int ir = ic;
          // Pairs of A panels where a full-width B panel is on its own.
          if (kPanelPairs && !narrow) {
            for (; ir + kRows < rows_end; ir += 2 * kRows) {
              float tiles[2][kRows][kColumns];
              MultiplyTilePair(depth, left.Panel(ir, pc), left.Panel(ir + kRows, pc), b_panel,
                               b_panel, tiles);
              StoreTileAt(tiles[0], ir, jc + jr, columns, m, first, last, c, ldc, epilogue);
              StoreTileAt(tiles[1], ir + kRows, jc + jr, columns, m, first, last, c, ldc, epilogue);
            }
          }
          for (; ir < rows_end; ir += kRows) {
            const auto a_panel = left.Panel(ir, pc);
            float tile[kRows][kColumns];
            if (narrow) {
              MultiplyNarrowPanels(depth, a_panel, b_panel, tile);
            } else {
              MultiplyPanels(depth, a_panel, b_panel, tile);
            }
            StoreTileAt(tile, ir, jc + jr, columns, m, first, last, c, ldc, epilogue);
          }
          jr += kColumns;
        }
      }
    }
  }
}

// The builds. fp-contract=fast lets the compiler fuse c += a * b into one
// FMA.
template <typename Left, typename Right>
[[gnu::target("avx512f,avx2,fma"), gnu::optimize("fp-contract=fast")]] void GemmAvx512(
    int m, int n, int k, const Left& left, const Right& right, float* c, int ldc,
    const GemmEpilogue& epilogue) {
  Gemm</*kPanelPairs=*/true>(m, n, k, left, right, c, ldc, epilogue);
}

template <typename Left, typename Right>
[[gnu::target("avx2,fma"), gnu::optimize("fp-contract=fast")]] void GemmAvx2(
    int m, int n, int k, const Left& left, const Right& right, float* c, int ldc,
    const GemmEpilogue& epilogue) {
  Gemm</*kPanelPairs=*/false>(m, n, k, left, right, c, ldc, epilogue);
}

template <typename Left, typename Right>
void GemmBaseline(int m, int n, int k, const Left& left, const Right& right, float* c, int ldc,
                  const GemmEpilogue& epilogue) {
  Gemm</*kPanelPairs=*/false>(m, n, k, left, right, c, ldc, epilogue);
}

template <typename Left, typename Right>
void GemmBuild(CpuBuild build, int m, int n, int k, const Left& left, const Right& right, float* c,
               int ldc, const GemmEpilogue& epilogue) {
  CallBuild(build, GemmBaseline<Left, Right>, GemmAvx2<Left, Right>, GemmAvx512<Left, Right>, m, n,
            k, left, right, c, ldc, epilogue);
}

template <typename Left, typename Right>
void DispatchGemm(int m, int n, int k, const Left& left, const Right& right, float* c, int ldc,
                  const GemmEpilogue& epilogue) {
  static const CpuBuild build = WidestCpuBuild();
  GemmBuild(build, m, n, k, left, right, c, ldc, epilogue);
}

}  // namespace

int64_t PackedLeftOperandFloats(int m, int k) {
  return int64_t{(m + kRows - 1) / kRows} * kRows * k;
}

void PackGemmLeftOperand(const float* a, int m, int k, int lda, float* packed) {
  for (int panel = 0; panel * kRows < m; ++panel) {
    for (int i = 0; i < k; ++i) {
      for (int r = 0; r < kRows; ++r) {
        const int row = panel * kRows + r;
        packed[(int64_t{panel} * k + i) * kRows + r] = row < m ? a[int64_t{row} * lda + i] : 0.0f;
      }
    }
  }
}

int64_t PackedGemmWorkspaceFloats() { return int64_t{kBlockDepth} * kBlockColumns; }

void PackedGemm(int m, int n, int k, const float* a_packed, const float* b, int ldb, float* c,
                int ldc, const GemmEpilogue& epilogue, float* workspace) {
  DispatchGemm(m, n, k, PackedLeft{a_packed, k}, StridedRight{b, ldb, workspace}, c, ldc, epilogue);
}

void PackedGemmForTesting(CpuBuild build, int m, int n, int k, const float* a_packed,
                          const float* b, int ldb, float* c, int ldc, const GemmEpilogue& epilogue,
                          float* workspace) {
  GemmBuild(build, m, n, k, PackedLeft{a_packed, k}, StridedRight{b, ldb, workspace}, c, ldc,
            epilogue);
}

void PackGemmRightOperand(const float* b, int n, int k, int ldb, float* packed) {
  PackBlock(b, ldb, k, n, packed);
}

void PackedGemmPackedRight(int m, int n, int k, const float* a_packed, const float* b_packed,
                           float* c, int ldc, const GemmEpilogue& epilogue) {
  DispatchGemm(m, n, k, PackedLeft{a_packed, k}, PrepackedRight{b_packed, k}, c, ldc, epilogue);
}

void PackedGemmPackedRightForTesting(CpuBuild build, int m, int n, int k, const float* a_packed,
                                     const float* b_packed, float* c, int ldc,
                                     const GemmEpilogue& epilogue) {
  GemmBuild(build, m, n, k, PackedLeft{a_packed, k}, PrepackedRight{b_packed, k}, c, ldc, epilogue);
}

void PackGemmRightOperandTransposed(const float* bt, int n, int k, int ld, float* packed) {
  // Column j of B is row j of bt: read front to back, written down its
  // panel at the panel's width. Columns past n (last panel) are zeros.
  for (int panel = 0; panel < n; panel += kColumns) {
    const int width = PackedPanelWidth(n - panel);
    float* to = packed + int64_t{panel} * k;
    for (int j = 0; j < width; ++j) {
      if (panel + j < n) {
        const float* from = bt + int64_t{panel + j} * ld;
        for (int x = 0; x < k; ++x) to[int64_t{x} * width + j] = from[x];
      } else {
        for (int x = 0; x < k; ++x) to[int64_t{x} * width + j] = 0.0f;
      }
    }
  }
}

void RowMajorGemmPackedRight(int m, int n, int k, const float* a, int lda, const float* b_packed,
                             float* c, int ldc, const GemmEpilogue& epilogue) {
  DispatchGemm(m, n, k, RowMajorLeft{a, lda, m}, PrepackedRight{b_packed, k}, c, ldc, epilogue);
}

void RowMajorGemmPackedRightForTesting(CpuBuild build, int m, int n, int k, const float* a, int lda,
                                       const float* b_packed, float* c, int ldc,
                                       const GemmEpilogue& epilogue) {
  GemmBuild(build, m, n, k, RowMajorLeft{a, lda, m}, PrepackedRight{b_packed, k}, c, ldc, epilogue);
}

}  // namespace convd::cpu
