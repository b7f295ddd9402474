// Winograd F(2x2,3x3) and F(4x4,3x3) for 3x3, and F(2x2,5x5) and
// F(4x4,5x5) for 5x5, stride-1, undilated layers.
//
// Load time: each filter g [RxR] becomes U = G g G^T, stored
//   U[group][xi] = [K/g x C/g] packed for PackedGemm
//   (xi = one of alpha*alpha transform positions).
// Run time, per (group, block of tiles) task in its own workspace slot:
//   1. input transform  V[xi][c][t] = (B^T d B)[xi] for each tile t, written
//      straight into the GEMM's packed layout (panels of 16 tiles); a
//      channel at a time, its rows copied with their padding first where
//      the tiles reach past the input (BlockInputs)
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
#include "kernels/cpu/winograd_tiles.h"
#include "kernels/cpu/work_estimate.h"
#include "kernels/winograd_transforms.h"

// The transforms' vectors are passed only to always-inlined functions
// (winograd_tiles.h), so GCC's -Wpsabi warning does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace convd::cpu {
namespace {

using winograd_tiles::kLanes;
using winograd_tiles::Tile;

// Rows of one image that a block's tiles read, in the copy of an input
// channel with its padding (WinogradConvAlgorithm::BlockInputs).
struct CopyRun {
  int n;           // image
  int first_row;   // the input row of the copy's row at `offset`
  int rows;        // rows of the copy, a row stride each
  int64_t offset;  // into the copy
};

// M x M outputs per tile from an R x R filter.
template <int M, int R>
class WinogradConvAlgorithm final : public ConvAlgorithm {
  using T = winograd::Transforms<M, R>;
  using Tiles = winograd_tiles::TileTransforms<M, R>;
  static constexpr int kAlpha = T::kAlpha;
  static constexpr int kPositions = Tiles::kPositions;
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
  // Chunks of kLanes tiles share a panel row of V.
  static_assert(kPackedGemmNarrowColumns % kLanes == 0);

 public:
  // `build`: which build of the transforms runs (the CPU must support it):
  // kLanes tiles a 16-byte chunk, one chunk at a time (SSE), two (AVX2) or
  // four (AVX-512). (One tile at a time, the transforms took about two
  // thirds of a layer's time: bench/RESULTS.md, 2026-12-05.)
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

  // Per thread: a Slot.
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
    const int tiles_w = TilesWide(p);
    const int64_t tiles_per_image = int64_t{TilesHigh(p)} * tiles_w;
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
    // A block transforms its tiles in and out (a few operations per value)
    // and multiplies kPositions [kg x cg] x [cg x tiles] matrices.
    const int64_t values = int64_t{kPositions} * tiles_per_block;
    const int64_t work_per_block = values * p.c_per_group() * p.k_per_group() / kGemmMacsPerNs +
                                   values * (p.c_per_group() + p.k_per_group()) * 4;
    ParallelFor(context.thread_pool, blocks * p.groups, work_per_block,
                [&](int64_t begin, int64_t end, int slot) {
                  const Slot workspace = SlotOf(p, args.workspace, slot);
                  for (int64_t task = begin; task < end; ++task) {
                    const int g = static_cast<int>(task % p.groups);
                    const int64_t first_tile = task / p.groups * tiles_per_block;
                    const int tiles = static_cast<int>(
                        std::min<int64_t>(tiles_per_block, total_tiles - first_tile));
                    RunBlock(args, g, first_tile, tiles, tiles_w, tiles_per_image, workspace);
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
                         MPositionStride(kTilesPerBlock, p.k_per_group())) +
           CopyFloats(p);
  }

  // A thread's workspace: a block's V and M, and the copy of one input
  // channel's rows with the padding (BlockInputs).
  struct Slot {
    float *v, *m, *copy;
  };
  static Slot SlotOf(const ConvParams& p, float* workspace, int slot) {
    float* v = workspace + slot * SlotFloats(p);
    float* m = v + kPositions * VPositionStride(kTilesPerBlock, p.c_per_group());
    return Slot{v, m, m + kPositions * MPositionStride(kTilesPerBlock, p.k_per_group())};
  }

  // Whether the tiles read past the input (padding, or tiles that overhang
  // the plane's far edges), so that each channel's rows are copied with
  // zeros around them.
  static bool NeedsCopy(const ConvParams& p) {
    return p.pad_top != 0 || p.pad_left != 0 || TilesHigh(p) * M + kAlpha - M > p.h ||
           CopyWidth(p) > p.w;
  }
  static int TilesHigh(const ConvParams& p) { return (p.p + M - 1) / M; }
  static int TilesWide(const ConvParams& p) { return (p.q + M - 1) / M; }
  // The copy's row: every tile column's kAlpha inputs.
  static int CopyWidth(const ConvParams& p) { return TilesWide(p) * M + kAlpha - M; }
  // The copy's size for any block: a block of up to kTilesPerBlock tiles
  // spans at most `images` images and, in each, a run of tile rows (r
  // tiles in a row span at most r / tiles_w + 2 tile rows), each run
  // (tile rows - 1) * M + kAlpha input rows.
  static int64_t CopyFloats(const ConvParams& p) {
    if (!NeedsCopy(p)) return 0;
    const int tiles_w = TilesWide(p);
    const int64_t tiles_per_image = int64_t{TilesHigh(p)} * tiles_w;
    const int64_t images = std::min<int64_t>(p.n, (kTilesPerBlock - 1) / tiles_per_image + 2);
    const int64_t tile_rows = std::min<int64_t>(
        images * TilesHigh(p), (kTilesPerBlock + tiles_w - 1) / tiles_w + 2 * images);
    return (tile_rows * M + images * (kAlpha - M)) * CopyWidth(p);
  }

  // Where a block's tiles read one input channel: straight from the input
  // (offsets from the channel's plane of image 0), or, where NeedsCopy,
  // from a copy of the rows they read with zeros around them (offsets from
  // the copy; a run of tile rows of each image, one after another).
  struct BlockInputs {
    int64_t row_stride;
    // Tile t's first input. Entries past the block's tiles repeat tile 0's:
    // the last panel's columns past the tiles are computed by the GEMM but
    // never stored, and copies of real inputs cost what they do (left-over
    // workspace values could be denormals, which are slow).
    int64_t offsets[kTilesPerBlock];
    CopyRun runs[kTilesPerBlock];
    int run_count;  // 0: no copy
  };

  static void PlanBlockInputs(const ConvParams& p, const Tile* tile_of, int tiles,
                              BlockInputs* inputs) {
    inputs->run_count = 0;
    if (!NeedsCopy(p)) {
      inputs->row_stride = p.w;
      for (int t = 0; t < tiles; ++t) {
        const Tile& tile = tile_of[t];
        inputs->offsets[t] =
            int64_t{tile.n} * p.c * p.h * p.w + int64_t{tile.th} * M * p.w + int64_t{tile.tw} * M;
      }
    } else {
      const int64_t width = CopyWidth(p);
      inputs->row_stride = width;
      int64_t next_offset = 0;
      int first_tile_row = 0;
      CopyRun* run = nullptr;
      for (int t = 0; t < tiles; ++t) {
        const Tile& tile = tile_of[t];
        if (run == nullptr || run->n != tile.n) {
          if (run != nullptr) next_offset += run->rows * width;
          run = &inputs->runs[inputs->run_count++];
          first_tile_row = tile.th;
          *run = {tile.n, tile.th * M - p.pad_top, kAlpha, next_offset};
        }
        run->rows = (tile.th - first_tile_row) * M + kAlpha;
        inputs->offsets[t] =
            run->offset + int64_t{tile.th - first_tile_row} * M * width + int64_t{tile.tw} * M;
      }
    }
    std::fill(inputs->offsets + tiles, inputs->offsets + kTilesPerBlock, inputs->offsets[0]);
  }

  // The copy's floats for `inputs` (zero where no run).
  static int64_t CopiedFloats(const BlockInputs& inputs) {
    if (inputs.run_count == 0) return 0;
    const CopyRun& last = inputs.runs[inputs.run_count - 1];
    return last.offset + last.rows * inputs.row_stride;
  }

  // Input channel `channel`'s rows of each run into `copy`, at column
  // pad_left; the rest of `copy` keeps its zeros.
  static void CopyChannelRows(const ConvParams& p, const BlockInputs& inputs, const float* input,
                              int channel, float* copy) {
    for (int r = 0; r < inputs.run_count; ++r) {
      const CopyRun& run = inputs.runs[r];
      const float* plane = input + (int64_t{run.n} * p.c + channel) * p.h * p.w;
      const int first = std::max(run.first_row, 0), end = std::min(run.first_row + run.rows, p.h);
      for (int ih = first; ih < end; ++ih) {
        std::memcpy(copy + run.offset + (ih - run.first_row) * inputs.row_stride + p.pad_left,
                    plane + int64_t{ih} * p.w, p.w * sizeof(float));
      }
    }
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
                int64_t tiles_per_image, const Slot& workspace) const {
    Tile tile_of[kTilesPerBlock];
    TileOrigins(first_tile, tiles, tiles_w, tiles_per_image, tile_of);
    BlockInputs inputs;
    PlanBlockInputs(args.params, tile_of, tiles, &inputs);
    std::fill_n(workspace.copy, CopiedFloats(inputs), 0.0f);
    TransformInputs(build_, args, g, inputs, tiles, 0, args.params.c_per_group(), workspace);
    MultiplyAndTransformOutputs(build_, args, g, tile_of, tiles, 0, args.params.k_per_group(),
                                workspace.v, workspace.m);
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
    BlockInputs inputs;
    PlanBlockInputs(p, tile_of, tiles, &inputs);
    // Slot 0's V and M are shared; each thread copies channels into its own slot's copy.
    const Slot shared = SlotOf(p, args.workspace, 0);
    float* v = shared.v;
    float* m = shared.m;
    // A multiple of the packed filters' panel rows: a task's rows start a panel.
    constexpr int kFiltersPerTask = 4 * kPackedGemmRows;
    const int filter_tasks = (kg + kFiltersPerTask - 1) / kFiltersPerTask;
    const int64_t values = int64_t{kPositions} * tiles;
    for (int g = 0; g < p.groups; ++g) {
      ParallelFor(context.thread_pool, cg, values * 4, [&](int64_t begin, int64_t end, int slot) {
        Slot workspace = SlotOf(p, args.workspace, slot);
        workspace.v = v;
        std::fill_n(workspace.copy, CopiedFloats(inputs), 0.0f);
        TransformInputs(build_, args, g, inputs, tiles, static_cast<int>(begin),
                        static_cast<int>(end), workspace);
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
  // packed for PackedGemmPackedRight (the last panel's columns past `tiles`
  // as BlockInputs::offsets says).
  static void TransformInputs(CpuBuild build, const ConvArgs& args, int g,
                              const BlockInputs& inputs, int tiles, int c_begin, int c_end,
                              const Slot& workspace) {
    CallBuild(build, InputTransformsBaseline, InputTransformsAvx2, InputTransformsAvx512, args, g,
              inputs, tiles, c_begin, c_end, workspace);
  }

  // TransformInputs, kChunks * kLanes tiles at a time.
  template <int kChunks>
  [[gnu::always_inline]] static void InputTransformsOf(const ConvArgs& args, int g,
                                                       const BlockInputs& inputs, int tiles,
                                                       int c_begin, int c_end,
                                                       const Slot& workspace) {
    constexpr int kWidth = kChunks * kLanes;
    const ConvParams& p = args.params;
    const int cg = p.c_per_group();
    const int64_t position_stride = VPositionStride(tiles, cg);
    const int columns = PackedRightColumns(tiles);
    for (int c = c_begin; c < c_end; ++c) {
      const int channel = g * cg + c;
      const float* from = args.input + int64_t{channel} * p.h * p.w;
      if (inputs.run_count > 0) {
        CopyChannelRows(p, inputs, args.input, channel, workspace.copy);
        from = workspace.copy;
      }
      for (int t = 0; t < columns; t += kWidth) {
        // Chunks inside the panels (the last panel may be narrower than
        // kWidth).
        const int chunks = std::min(kChunks, (columns - t) / kLanes);
        float* out[kChunks] = {};
        for (int chunk = 0; chunk < chunks; ++chunk) {
          out[chunk] = workspace.v + PackedRightOffset(tiles, cg, c, t + chunk * kLanes);
        }
        Tiles::template InputTransform<kChunks>(from, inputs.row_stride, &inputs.offsets[t], chunks,
                                                out, position_stride);
      }
    }
  }
  [[gnu::target("avx512f,avx2,fma"), gnu::optimize("fp-contract=fast")]] static void
  InputTransformsAvx512(const ConvArgs& args, int g, const BlockInputs& inputs, int tiles,
                        int c_begin, int c_end, const Slot& workspace) {
    InputTransformsOf<4>(args, g, inputs, tiles, c_begin, c_end, workspace);
  }
  [[gnu::target("avx2,fma"), gnu::optimize("fp-contract=fast")]] static void InputTransformsAvx2(
      const ConvArgs& args, int g, const BlockInputs& inputs, int tiles, int c_begin, int c_end,
      const Slot& workspace) {
    InputTransformsOf<2>(args, g, inputs, tiles, c_begin, c_end, workspace);
  }
  // A function of its own, as the other builds': CallBuild takes its
  // address, and an always_inline function's cannot be (the sanitizers'
  // -O1 does not resolve the call).
  static void InputTransformsBaseline(const ConvArgs& args, int g, const BlockInputs& inputs,
                                      int tiles, int c_begin, int c_end, const Slot& workspace) {
    InputTransformsOf<1>(args, g, inputs, tiles, c_begin, c_end, workspace);
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
      CallBuild(build, OutputTransformsBaseline, OutputTransformsAvx2, OutputTransformsAvx512, args,
                g * kg + kk, tile_of, tiles, m_row, stride);
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
      Tiles::template OutputTransform<kChunks>(args, k, &tile_of[t], std::min(kWidth, tiles - t),
                                               m_row + t, position_stride);
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
  // As InputTransformsBaseline.
  static void OutputTransformsBaseline(const ConvArgs& args, int k, const Tile* tile_of, int tiles,
                                       const float* m_row, int64_t position_stride) {
    OutputTransformsOf<1>(args, k, tile_of, tiles, m_row, position_stride);
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
