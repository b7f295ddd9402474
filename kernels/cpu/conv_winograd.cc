// Winograd F(2x2,3x3) and F(4x4,3x3) for 3x3, and F(2x2,5x5) and
// F(4x4,5x5) for 5x5, stride-1, undilated layers.
//
// Load time: each filter g [RxR] becomes U = G g G^T, stored
//   U[group][xi] = [K/g x C/g] packed for PackedGemm
//   (xi = one of alpha*alpha transform positions).
// Run time, per (group, block of tiles) task in its own workspace slot:
//   1. input transform  V[xi][c][t] = (B^T d B)[xi] for each tile t, written
//      straight into the GEMM's packed layout (panels of 16 tiles)
//   2. alpha^2 GEMMs     M[xi] = U[xi] (K/g x C/g) * V[xi] (C/g x tiles)
//   3. output transform  Y = A^T M A, fused with bias, residual, activation.
// Tiles are numbered over the whole batch, so a block may span images; the
// block size bounds the workspace and keeps V and M in cache.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/packed_gemm.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/winograd_vectors.h"
#include "kernels/cpu/work_estimate.h"
#include "kernels/epilogue_inl.h"
#include "kernels/winograd_transforms.h"

// The transforms' vectors are passed only to always-inlined functions
// (winograd_vectors.h), so GCC's -Wpsabi warning does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace convd::cpu {
namespace {

using winograd_vectors::ChunkShuffle;
using winograd_vectors::Floats;
using winograd_vectors::MultiplyLeft;
using winograd_vectors::MultiplyRightT;
using winograd_vectors::Shuffle;

// M x M outputs per tile from an R x R filter.
template <int M, int R>
class WinogradConvAlgorithm final : public ConvAlgorithm {
  using T = winograd::Transforms<M, R>;
  static constexpr int kAlpha = T::kAlpha;
  static constexpr int kPositions = kAlpha * kAlpha;
  static constexpr int kTilesPerBlock = kAlpha == 4 ? 128 : 64;
  // Floats between the end of one position's rows of V (or of M) and the
  // start of the next. A transform reads or writes all kPositions positions
  // of a tile at once; at strides that are multiples of 4 KB (V at 128
  // tiles and 8k channels, or 49 tiles packed to 56 at 128 channels) they
  // all fall in one L1 set, which holds 8 lines. On ResNet's 28x28,
  // 128-channel layer at batch 1 the skew took 28% off the input
  // transform's time (perf samples, bench/RESULTS.md).
  static constexpr int kPositionSkew = 16;
  static_assert(kTilesPerBlock % kPackedGemmColumns == 0, "V's panels fill the block");
  // Tiles transformed at once, one per lane of a 16-byte vector (SSE): one
  // tile at a time, the transforms took about two thirds of a layer's time
  // (bench/RESULTS.md, 2026-12-05).
  static constexpr int kLanes = 4;
  using Lanes = Floats<kLanes>::Vector;
  static_assert(kLanes == 4, "the transforms spell out four lanes");

 public:
  // `build`: which build of the output transform runs (the CPU must
  // support it). It takes kLanes tiles at a time a 16-byte chunk, one
  // chunk (SSE), two (AVX2) or four (AVX-512) at once.
  explicit WinogradConvAlgorithm(CpuBuild build) : build_(build) {}

  std::string_view name() const override {
    if (R == 5) return M == 2 ? "winograd_f25" : "winograd_f45";
    return M == 2 ? "winograd_f23" : "winograd_f43";
  }

  absl::Status CanImplement(const ConvParams& p) const override {
    if (p.r != R || p.s != R || p.stride_h != 1 || p.stride_w != 1 || p.dilation_h != 1 ||
        p.dilation_w != 1) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s needs %dx%d stride 1 dilation 1; got %dx%d stride %dx%d "
          "dilation %dx%d",
          name(), R, R, p.r, p.s, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w));
    }
    return absl::OkStatus();
  }

  // Per thread: a block's V and M.
  int64_t WorkspaceBytes(const ConvParams& p, int threads) const override {
    return int64_t{threads} * SlotFloats(p) * int64_t{sizeof(float)};
  }

  absl::StatusOr<PackedWeights> PrepareWeights(const ConvParams& p,
                                               const float* weights) const override {
    if (absl::Status status = CanImplement(p); !status.ok()) return status;
    const int cg = p.c_per_group(), kg = p.k_per_group();
    // U[group][xi][K/g][C/g] as rows first, then packed.
    AlignedBuffer rows(int64_t{kPositions} * p.k * cg);
    float* u = rows.data();
    for (int k = 0; k < p.k; ++k) {
      const int g = k / kg, kk = k % kg;
      for (int c = 0; c < cg; ++c) {
        const float* filter = weights + (int64_t{k} * cg + c) * R * R;
        // G g G^T in float64, rounded once.
        double gg[kAlpha][R];
        for (int i = 0; i < kAlpha; ++i) {
          for (int j = 0; j < R; ++j) {
            gg[i][j] = 0;
            for (int x = 0; x < R; ++x) gg[i][j] += T::kG[i][x] * filter[x * R + j];
          }
        }
        for (int i = 0; i < kAlpha; ++i) {
          for (int j = 0; j < kAlpha; ++j) {
            double v = 0;
            for (int x = 0; x < R; ++x) v += gg[i][x] * T::kG[j][x];
            u[((int64_t{g} * kPositions + i * kAlpha + j) * kg + kk) * cg + c] =
                static_cast<float>(v);
          }
        }
      }
    }
    const int64_t product_floats = PackedLeftOperandFloats(kg, cg);
    PackedWeights packed{AlignedBuffer(int64_t{p.groups} * kPositions * product_floats)};
    for (int product = 0; product < p.groups * kPositions; ++product) {
      PackGemmLeftOperand(u + int64_t{product} * kg * cg, kg, cg, cg,
                          packed.data.data() + product * product_floats);
    }
    return packed;
  }

  absl::Status Run(const ConvArgs& args, const ExecContext& context) const override {
    const ConvParams& p = args.params;
    const int tiles_h = (p.p + M - 1) / M, tiles_w = (p.q + M - 1) / M;
    const int64_t tiles_per_image = int64_t{tiles_h} * tiles_w;
    const int64_t total_tiles = tiles_per_image * p.n;
    const int threads = context.thread_pool ? context.thread_pool->num_threads() : 1;
    if (total_tiles <= kTilesPerBlock && p.groups < threads) {
      RunSharedBlock(args, context, static_cast<int>(total_tiles), tiles_w, tiles_per_image);
      return absl::OkStatus();
    }
    // Smaller blocks where full ones would leave threads idle.
    const int64_t blocks_wanted = std::max<int64_t>(1, (threads + p.groups - 1) / p.groups);
    const int64_t tiles_per_block =
        std::min<int64_t>(kTilesPerBlock, (total_tiles + blocks_wanted * kLanes - 1) /
                                              (blocks_wanted * kLanes) * kLanes);
    const int64_t blocks = (total_tiles + tiles_per_block - 1) / tiles_per_block;
    const int64_t slot_floats = SlotFloats(p);
    // A block transforms its tiles in and out (a few operations per value)
    // and multiplies kPositions [kg x cg] x [cg x tiles] matrices.
    const int64_t values = int64_t{kPositions} * tiles_per_block;
    const int64_t work_per_block = values * p.c_per_group() * p.k_per_group() / kGemmMacsPerNs +
                                   values * (p.c_per_group() + p.k_per_group()) * 4;
    ParallelFor(context.thread_pool, blocks * p.groups, work_per_block,
                [&](int64_t begin, int64_t end, int slot) {
                  float* v = args.workspace + slot * slot_floats;
                  float* m = v + kPositions * VPositionStride(kTilesPerBlock, p.c_per_group());
                  for (int64_t task = begin; task < end; ++task) {
                    const int g = static_cast<int>(task % p.groups);
                    const int64_t first_tile = task / p.groups * tiles_per_block;
                    const int tiles = static_cast<int>(
                        std::min<int64_t>(tiles_per_block, total_tiles - first_tile));
                    RunBlock(args, g, first_tile, tiles, tiles_w, tiles_per_image, v, m);
                  }
                });
    return absl::OkStatus();
  }

 private:
  // V[xi] is [cg x tiles] packed for PackedGemmPackedRight; M[xi] is
  // [kg x tiles], row-major.
  static int64_t VPositionStride(int tiles, int cg) {
    return PackedRightOperandFloats(tiles, cg) + kPositionSkew;
  }
  static int64_t MPositionStride(int tiles, int kg) { return int64_t{kg} * tiles + kPositionSkew; }
  static int64_t SlotFloats(const ConvParams& p) {
    return kPositions * (VPositionStride(kTilesPerBlock, p.c_per_group()) +
                         MPositionStride(kTilesPerBlock, p.k_per_group()));
  }

  // A tile: image n, tile row th, tile column tw. Its outputs start at row
  // th * M, column tw * M; its inputs at row th * M - pad_top, column
  // tw * M - pad_left (in the padding, at an edge).
  struct Tile {
    int n, th, tw;
  };

  // Up to kLanes tiles that may share one fast path: four horizontally
  // adjacent tiles of one image, the common case.
  static bool Adjacent(const Tile* lane, int lanes) {
    return lanes == kLanes && lane[kLanes - 1].n == lane[0].n &&
           lane[kLanes - 1].th == lane[0].th && lane[kLanes - 1].tw == lane[0].tw + kLanes - 1;
  }

  static void TileOrigins(int64_t first_tile, int tiles, int tiles_w, int64_t tiles_per_image,
                          Tile* tile_of) {
    for (int t = 0; t < tiles; ++t) {
      const int64_t tile = first_tile + t;
      tile_of[t] = Tile{static_cast<int>(tile / tiles_per_image),
                        static_cast<int>(tile % tiles_per_image / tiles_w),
                        static_cast<int>(tile % tiles_w)};
    }
  }

  // One block of `tiles` tiles of group g, on the calling thread.
  void RunBlock(const ConvArgs& args, int g, int64_t first_tile, int tiles, int tiles_w,
                int64_t tiles_per_image, float* v, float* m) const {
    Tile tile_of[kTilesPerBlock];
    TileOrigins(first_tile, tiles, tiles_w, tiles_per_image, tile_of);
    TransformInputs(args, g, tile_of, tiles, 0, args.params.c_per_group(), v);
    MultiplyAndTransformOutputs(build_, args, g, tile_of, tiles, 0, args.params.k_per_group(), v,
                                m);
  }

  // Every tile in one block, shared by the threads: the input transform
  // split by channel, then the products and the output transform by
  // filter. At batch 1 a small plane (AlexNet's 13x13: 16 F(4x4) tiles) has
  // too few tiles to split; split by filter, each thread also reads only
  // its share of U, which at 512 channels in and out is 38 MB.
  void RunSharedBlock(const ConvArgs& args, const ExecContext& context, int tiles, int tiles_w,
                      int64_t tiles_per_image) const {
    const ConvParams& p = args.params;
    const int cg = p.c_per_group(), kg = p.k_per_group();
    Tile tile_of[kTilesPerBlock];
    TileOrigins(0, tiles, tiles_w, tiles_per_image, tile_of);
    float* v = args.workspace;
    float* m = v + kPositions * VPositionStride(kTilesPerBlock, cg);
    // A multiple of the packed filters' panel rows: a task's rows start a panel.
    constexpr int kFiltersPerTask = 4 * kPackedGemmRows;
    const int filter_tasks = (kg + kFiltersPerTask - 1) / kFiltersPerTask;
    const int64_t values = int64_t{kPositions} * tiles;
    for (int g = 0; g < p.groups; ++g) {
      ParallelFor(context.thread_pool, cg, values * 4, [&](int64_t begin, int64_t end, int) {
        TransformInputs(args, g, tile_of, tiles, static_cast<int>(begin), static_cast<int>(end), v);
      });
      ParallelFor(context.thread_pool, filter_tasks,
                  values * (int64_t{kFiltersPerTask} * cg / kGemmMacsPerNs + kFiltersPerTask * 4),
                  [&](int64_t begin, int64_t end, int) {
                    MultiplyAndTransformOutputs(
                        build_, args, g, tile_of, tiles, static_cast<int>(begin) * kFiltersPerTask,
                        std::min(kg, static_cast<int>(end) * kFiltersPerTask), v, m);
                  });
    }
  }

  // Step 1 for channels [c_begin, c_end) of group g: V[xi], [cg x tiles]
  // packed for PackedGemmPackedRight, kLanes tiles at a time (kLanes
  // divides the panels' widths, so they share a panel row). The last
  // panel's columns past `tiles` are zeroed: the GEMM computes them, and
  // left over values there could be denormals (slow) or NaNs.
  static void TransformInputs(const ConvArgs& args, int g, const Tile* tile_of, int tiles,
                              int c_begin, int c_end, float* v) {
    static_assert(kPackedGemmNarrowColumns % kLanes == 0);
    const ConvParams& p = args.params;
    const int cg = p.c_per_group();
    const int64_t position_stride = VPositionStride(tiles, cg);
    for (int t = 0; t < PackedRightColumns(tiles); t += kLanes) {
      const int lanes = std::min(kLanes, tiles - t);
      for (int c = c_begin; c < c_end; ++c) {
        float* out = v + PackedRightOffset(tiles, cg, c, t);
        if (lanes <= 0) {
          for (int xi = 0; xi < kPositions; ++xi) {
            const Lanes zero{};
            std::memcpy(out + xi * position_stride, &zero, sizeof(zero));
          }
          continue;
        }
        InputTransform(p, args.input, g * cg + c, &tile_of[t], lanes, out, position_stride);
      }
    }
  }

  // Steps 2 and 3 for filters [k_begin, k_end) of group g (k_begin a
  // multiple of kPackedGemmRows): their rows of
  // the kPositions products M[xi] = U[xi] V[xi], then the output transform
  // and epilogue (a filter's output plane at a time: its rows are written
  // front to back).
  static void MultiplyAndTransformOutputs(CpuBuild build, const ConvArgs& args, int g,
                                          const Tile* tile_of, int tiles, int k_begin, int k_end,
                                          const float* v, float* m) {
    const ConvParams& p = args.params;
    const int cg = p.c_per_group(), kg = p.k_per_group();
    if (k_begin >= k_end) return;
    const int64_t product_floats = PackedLeftOperandFloats(kg, cg);
    const float* u = args.weights->data.data() + int64_t{g} * kPositions * product_floats;
    for (int xi = 0; xi < kPositions; ++xi) {
      PackedGemmPackedRight(
          k_end - k_begin, tiles, cg, u + xi * product_floats + int64_t{k_begin} * cg,
          v + xi * VPositionStride(tiles, cg),
          m + xi * MPositionStride(tiles, kg) + int64_t{k_begin} * tiles, tiles, {});
    }
    for (int kk = k_begin; kk < k_end; ++kk) {
      const float* m_row = m + int64_t{kk} * tiles;
      const int64_t stride = MPositionStride(tiles, kg);
      switch (build) {
        case CpuBuild::kAvx512:
          OutputTransformsAvx512(args, g * kg + kk, tile_of, tiles, m_row, stride);
          break;
        case CpuBuild::kAvx2:
          OutputTransformsAvx2(args, g * kg + kk, tile_of, tiles, m_row, stride);
          break;
        case CpuBuild::kBaseline:
          OutputTransformsOf<1>(args, g * kg + kk, tile_of, tiles, m_row, stride);
          break;
      }
    }
  }

  // Output channel k of every tile, kChunks * kLanes tiles at a time.
  template <int kChunks>
  [[gnu::always_inline]] static void OutputTransformsOf(const ConvArgs& args, int k,
                                                        const Tile* tile_of, int tiles,
                                                        const float* m_row,
                                                        int64_t position_stride) {
    constexpr int kWidth = kChunks * kLanes;
    for (int t = 0; t < tiles; t += kWidth) {
      OutputTransform<kChunks>(args, k, &tile_of[t], std::min(kWidth, tiles - t), m_row + t,
                               position_stride);
    }
  }
  [[gnu::target("avx512f,avx2,fma"), gnu::optimize("fp-contract=fast")]] static void
  OutputTransformsAvx512(const ConvArgs& args, int k, const Tile* tile_of, int tiles,
                         const float* m_row, int64_t position_stride) {
    OutputTransformsOf<4>(args, k, tile_of, tiles, m_row, position_stride);
  }
  [[gnu::target("avx2,fma"), gnu::optimize("fp-contract=fast")]] static void OutputTransformsAvx2(
      const ConvArgs& args, int k, const Tile* tile_of, int tiles, const float* m_row,
      int64_t position_stride) {
    OutputTransformsOf<2>(args, k, tile_of, tiles, m_row, position_stride);
  }

  // Channel `c` of `lanes` tiles, a vector lane each: their inputs d
  // through B^T d B into V's kPositions rows (`v`: lane 0's entry of
  // position 0; positions `position_stride` floats apart). All kLanes
  // lanes are written: those past `lanes` with zeros.
  static void InputTransform(const ConvParams& p, const float* input, int c, const Tile* lane,
                             int lanes, float* v, int64_t position_stride) {
    Lanes d[kAlpha][kAlpha];
    const int64_t plane = int64_t{p.h} * p.w;
    const int h0 = lane[0].th * M - p.pad_top, w0 = lane[0].tw * M - p.pad_left;
    // Adjacent tiles read kWidth columns of the same rows: inside the
    // image, straight from it; at an edge, from a copy with the padding.
    constexpr int kWidth = (kLanes - 1) * M + kAlpha;
    if (Adjacent(lane, lanes)) {
      const float* channel = input + (int64_t{lane[0].n} * p.c + c) * plane;
      const bool columns_inside = w0 >= 0 && w0 + kWidth <= p.w;
      float padded[kAlpha][kWidth];
#pragma GCC unroll 8
      for (int i = 0; i < kAlpha; ++i) {
        const int ih = h0 + i;
        const float* row = padded[i];
        if (ih >= 0 && ih < p.h && columns_inside) {
          row = channel + int64_t{ih} * p.w + w0;
        } else {
          // Zeros, and the run of columns inside the image copied in: on
          // small planes (AlexNet's 13x13) every group of tiles touches
          // the padding, and a test per value cost more than the transform.
          std::fill_n(padded[i], kWidth, 0.0f);
          const int first = std::max(w0, 0), end = std::min(w0 + kWidth, p.w);
          if (ih >= 0 && ih < p.h && first < end) {
            std::memcpy(&padded[i][first - w0], channel + int64_t{ih} * p.w + first,
                        (end - first) * sizeof(float));
          }
        }
#pragma GCC unroll 8
        for (int j = 0; j < kAlpha; ++j) {
          d[i][j] = Lanes{row[j], row[M + j], row[2 * M + j], row[3 * M + j]};
        }
      }
    } else {  // tiles from different rows or images, or fewer than kLanes
      for (int i = 0; i < kAlpha; ++i) {
        for (int j = 0; j < kAlpha; ++j) {
          d[i][j] = Lanes{};
          for (int l = 0; l < lanes; ++l) {
            const int ih = lane[l].th * M - p.pad_top + i, iw = lane[l].tw * M - p.pad_left + j;
            if (ih >= 0 && ih < p.h && iw >= 0 && iw < p.w) {
              d[i][j][l] = input[(int64_t{lane[l].n} * p.c + c) * plane + int64_t{ih} * p.w + iw];
            }
          }
        }
      }
    }
    Lanes bd[kAlpha][kAlpha], bdb[kAlpha][kAlpha];
    MultiplyLeft(T::kBT, d, bd);      // B^T d
    MultiplyRightT(bd, T::kBT, bdb);  // (B^T d) B
#pragma GCC unroll 8
    for (int xi = 0; xi < kPositions; ++xi) {
      float* out = v + xi * position_stride;
      const Lanes& value = bdb[xi / kAlpha][xi % kAlpha];
      std::memcpy(out, &value, sizeof(value));
    }
  }

  // Output channel k of `lanes` (up to kChunks * kLanes) tiles, a vector
  // lane each: M's kPositions values (`m`: lane 0's entry of position 0;
  // positions `position_stride` apart) through A^T m A into each tile's
  // output rows, with the epilogue: on all of them at once, or with a
  // residual, over each run of values a row gets (kLanes adjacent tiles'
  // rows make one).
  template <int kChunks>
  [[gnu::always_inline]] static void OutputTransform(const ConvArgs& args, int k, const Tile* lane,
                                                     int lanes, const float* m,
                                                     int64_t position_stride) {
    constexpr int kWidth = kChunks * kLanes;
    using Vector = typename Floats<kWidth>::Vector;
    Vector mt[kAlpha][kAlpha];
#pragma GCC unroll 8
    for (int xi = 0; xi < kPositions; ++xi) {
      if (lanes == kWidth) {
        std::memcpy(&mt[xi / kAlpha][xi % kAlpha], m + xi * position_stride, sizeof(Vector));
      } else {
        mt[xi / kAlpha][xi % kAlpha] = Vector{};
        for (int l = 0; l < lanes; ++l) {
          mt[xi / kAlpha][xi % kAlpha][l] = m[xi * position_stride + l];
        }
      }
    }
    Vector am[M][kAlpha], ama[M][M];
    MultiplyLeft(T::kAT, mt, am);     // A^T m
    MultiplyRightT(am, T::kAT, ama);  // (A^T m) A
    // Row i of chunk c's kLanes tiles' outputs side by side, lane l's at
    // l * M: in each chunk, a 4 x 4 transpose (M = 4) or an interleave.
    float y[kChunks][M][kLanes * M];
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      Vector rows[M];
      if constexpr (M == 4) {
        const Vector t0 = Shuffle<ChunkShuffle::kUnpackLow, kWidth>(ama[i][0], ama[i][1]);
        const Vector t1 = Shuffle<ChunkShuffle::kUnpackLow, kWidth>(ama[i][2], ama[i][3]);
        const Vector t2 = Shuffle<ChunkShuffle::kUnpackHigh, kWidth>(ama[i][0], ama[i][1]);
        const Vector t3 = Shuffle<ChunkShuffle::kUnpackHigh, kWidth>(ama[i][2], ama[i][3]);
        rows[0] = Shuffle<ChunkShuffle::kLowHalves, kWidth>(t0, t1);
        rows[1] = Shuffle<ChunkShuffle::kHighHalves, kWidth>(t0, t1);
        rows[2] = Shuffle<ChunkShuffle::kLowHalves, kWidth>(t2, t3);
        rows[3] = Shuffle<ChunkShuffle::kHighHalves, kWidth>(t2, t3);
      } else {
        static_assert(M == 2);
        rows[0] = Shuffle<ChunkShuffle::kUnpackLow, kWidth>(ama[i][0], ama[i][1]);
        rows[1] = Shuffle<ChunkShuffle::kUnpackHigh, kWidth>(ama[i][0], ama[i][1]);
      }
      // Chunk c of rows[r] is floats [4r, 4r + 4) of chunk c's row i.
#pragma GCC unroll 4
      for (int c = 0; c < kChunks; ++c) {
#pragma GCC unroll 4
        for (int r = 0; r < M; ++r) {
          std::memcpy(&y[c][i][r * kLanes], reinterpret_cast<const float*>(&rows[r]) + c * kLanes,
                      kLanes * sizeof(float));
        }
      }
    }
    // Without a residual the epilogue needs no output position: one call
    // over all the tiles' rows (columns past the plane are discarded).
    const float* residual = args.epilogue.residual;
    if (residual == nullptr)
      ApplyEpilogue(args.epilogue, k, &y[0][0][0], nullptr, sizeof(y) / sizeof(float));
    for (int c = 0; c < kChunks && c * kLanes < lanes; ++c) {
      StoreOutputRows(args, k, lane + c * kLanes, std::min(kLanes, lanes - c * kLanes), y[c]);
    }
  }

  // Writes kLanes tiles' output rows y (lane l's at l * M of each row) to
  // output channel k: adjacent tiles each row as one run, others a run each.
  [[gnu::always_inline]] static void StoreOutputRows(const ConvArgs& args, int k, const Tile* lane,
                                                     int lanes, const float (&y)[M][kLanes * M]) {
    const ConvParams& p = args.params;
    const float* residual = args.epilogue.residual;
    const bool adjacent = Adjacent(lane, lanes);
    for (int l = 0; l < lanes; l += adjacent ? kLanes : 1) {
      const int first_column = lane[l].tw * M;
      const int columns = std::min((adjacent ? kLanes : 1) * M, p.q - first_column);
      const int64_t plane_offset = (int64_t{lane[l].n} * p.k + k) * p.p * p.q;
      for (int i = 0; i < M; ++i) {
        const int oh = lane[l].th * M + i;
        if (oh >= p.p) break;
        const int64_t index = plane_offset + int64_t{oh} * p.q + first_column;
        if (columns == kLanes * M) {  // a constant size: vector moves, not a call
          std::memcpy(args.output + index, &y[i][0], kLanes * M * sizeof(float));
        } else {
          std::memcpy(args.output + index, &y[i][l * M], columns * sizeof(float));
        }
        if (residual != nullptr) {
          ApplyEpilogue(args.epilogue, k, args.output + index, residual + index, columns);
        }
      }
    }
  }

  const CpuBuild build_;
};

// Each algorithm in each build, indexed by CpuBuild (narrowest first).
template <int M, int R>
const WinogradConvAlgorithm<M, R>& WinogradBuild(CpuBuild build) {
  static const WinogradConvAlgorithm<M, R> builds[] = {
      WinogradConvAlgorithm<M, R>(CpuBuild::kBaseline),
      WinogradConvAlgorithm<M, R>(CpuBuild::kAvx2), WinogradConvAlgorithm<M, R>(CpuBuild::kAvx512)};
  return builds[static_cast<int>(build)];
}

}  // namespace

const ConvAlgorithm& WinogradF23Conv() { return WinogradBuild<2, 3>(WidestCpuBuild()); }
const ConvAlgorithm& WinogradF43Conv() { return WinogradBuild<4, 3>(WidestCpuBuild()); }
const ConvAlgorithm& WinogradF25Conv() { return WinogradBuild<2, 5>(WidestCpuBuild()); }
const ConvAlgorithm& WinogradF45Conv() { return WinogradBuild<4, 5>(WidestCpuBuild()); }

const ConvAlgorithm* WinogradConvForTesting(std::string_view name, CpuBuild build) {
  const ConvAlgorithm* const algorithms[] = {
      &WinogradBuild<2, 3>(build), &WinogradBuild<4, 3>(build), &WinogradBuild<2, 5>(build),
      &WinogradBuild<4, 5>(build)};
  for (const ConvAlgorithm* algorithm : algorithms) {
    if (algorithm->name() == name) return algorithm;
  }
  return nullptr;
}

}  // namespace convd::cpu
