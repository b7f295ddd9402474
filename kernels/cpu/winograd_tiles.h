// The CPU Winograd convolution's per-tile transforms (conv_winograd.cc):
// the input transform V = B^T d B and the output transform Y = A^T M A
// with the epilogue, a tile a vector lane. Tiles go in chunks of kLanes,
// a 16-byte chunk of the vector each; kChunks chunks (1 for SSE, 2 for
// AVX2, 4 for AVX-512) are transformed at once. Always inlined, so each
// build's caller gets code for its own width.
#ifndef CONVD_KERNELS_CPU_WINOGRAD_TILES_H_
#define CONVD_KERNELS_CPU_WINOGRAD_TILES_H_

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/winograd_vectors.h"
#include "kernels/epilogue_inl.h"
#include "kernels/winograd_transforms.h"

// See winograd_vectors.h: no vector crosses a call.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace convd::cpu::winograd_tiles {

// Tiles in a 16-byte chunk of a vector: the unit of V's panel rows and of
// the output rows' adjacency (below).
inline constexpr int kLanes = 4;

// A tile: image n, tile row th, tile column tw. Its outputs start at row
// th * M, column tw * M; its inputs at row th * M - pad_top, column
// tw * M - pad_left (in the padding, at an edge).
struct Tile {
  int n, th, tw;
};

// Whether `lanes` tiles are kLanes horizontally adjacent tiles of one
// image, the common case, which reads and writes whole rows.
inline bool Adjacent(const Tile* lane, int lanes) {
  return lanes == kLanes && lane[kLanes - 1].n == lane[0].n && lane[kLanes - 1].th == lane[0].th &&
         lane[kLanes - 1].tw == lane[0].tw + kLanes - 1;
}

// M x M outputs per tile from an R x R filter.
template <int M, int R>
class TileTransforms {
  using T = winograd::Transforms<M, R>;
  using Lanes = winograd_vectors::Floats<kLanes>::Vector;

 public:
  static constexpr int kAlpha = T::kAlpha;
  static constexpr int kPositions = kAlpha * kAlpha;

  // kChunks * kLanes tiles of one input channel, a vector lane each: their
  // inputs d through B^T d B into V's kPositions rows. Tile l's
  // kAlpha x kAlpha inputs start at channel + offsets[l], rows `row_stride`
  // apart, all readable (a copy with the padding where the tiles reach
  // into it). out[chunk], for the first `chunks` chunks: the chunk's first
  // tile's entry of position 0; positions `position_stride` floats apart.
  template <int kChunks>
  [[gnu::always_inline]] static void InputTransform(const float* channel, int64_t row_stride,
                                                    const int64_t* offsets, int chunks,
                                                    float* const* out, int64_t position_stride) {
    constexpr int kWidth = kChunks * kLanes;
    using Vector = typename winograd_vectors::Floats<kWidth>::Vector;
    const float* first[kWidth];  // tile l's first input
#pragma GCC unroll 16
    for (int l = 0; l < kWidth; ++l) first[l] = channel + offsets[l];
    Vector d[kAlpha][kAlpha];
#pragma GCC unroll 8
    for (int i = 0; i < kAlpha; ++i) {
      // Columns [column, column + 4) of row i of slot `slot` of every chunk's
      // tiles: one transposes to columns of the chunks' tiles.
      const auto columns_of = [&](int slot, int column) [[gnu::always_inline]] {
        Lanes chunk_values[kChunks];
#pragma GCC unroll 4
        for (int chunk = 0; chunk < kChunks; ++chunk) {
          std::memcpy(&chunk_values[chunk], first[chunk * kLanes + slot] + i * row_stride + column,
                      sizeof(Lanes));
        }
        return winograd_vectors::Concatenate<kChunks>(chunk_values);
      };
      // Columns 0-3, then (kAlpha > 4) columns kAlpha - 4 to kAlpha - 1:
      // each tile reads only its own kAlpha columns.
      Vector low[4], high[4];
      winograd_vectors::TransposeChunks<kWidth>(columns_of(0, 0), columns_of(1, 0),
                                                columns_of(2, 0), columns_of(3, 0), low);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) d[i][j] = low[j];
      if constexpr (kAlpha > 4) {
        constexpr int kHigh = kAlpha - 4;
        winograd_vectors::TransposeChunks<kWidth>(columns_of(0, kHigh), columns_of(1, kHigh),
                                                  columns_of(2, kHigh), columns_of(3, kHigh), high);
#pragma GCC unroll 4
        for (int j = 4; j < kAlpha; ++j) d[i][j] = high[j - kHigh];
      }
    }
    Vector bd[kAlpha][kAlpha], bdb[kAlpha][kAlpha];
    winograd_vectors::MultiplyLeft(T::kBT, d, bd);      // B^T d
    winograd_vectors::MultiplyRightT(bd, T::kBT, bdb);  // (B^T d) B
#pragma GCC unroll 4
    for (int chunk = 0; chunk < kChunks; ++chunk) {
      if (chunk >= chunks) break;
#pragma GCC unroll 8
      for (int xi = 0; xi < kPositions; ++xi) {
        std::memcpy(out[chunk] + xi * position_stride,
                    reinterpret_cast<const float*>(&bdb[xi / kAlpha][xi % kAlpha]) + chunk * kLanes,
                    sizeof(Lanes));
      }
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
    using Vector = typename winograd_vectors::Floats<kWidth>::Vector;
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
    winograd_vectors::MultiplyLeft(T::kAT, mt, am);     // A^T m
    winograd_vectors::MultiplyRightT(am, T::kAT, ama);  // (A^T m) A
    // Row i of chunk c's kLanes tiles' outputs side by side, lane l's at
    // l * M: in each chunk, a 4 x 4 transpose (M = 4) or an interleave.
    float y[kChunks][M][kLanes * M];
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      Vector rows[4];
      if constexpr (M == 4) {
        winograd_vectors::TransposeChunks<kWidth>(ama[i][0], ama[i][1], ama[i][2], ama[i][3], rows);
      } else {
        static_assert(M == 2);
        using winograd_vectors::ChunkShuffle;
        using winograd_vectors::Shuffle;
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
    if (residual == nullptr) {
      ApplyEpilogue(args.epilogue, k, &y[0][0][0], nullptr, sizeof(y) / sizeof(float));
    }
    for (int c = 0; c < kChunks && c * kLanes < lanes; ++c) {
      StoreOutputRows(args, k, lane + c * kLanes, std::min(kLanes, lanes - c * kLanes), y[c]);
    }
  }

 private:
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
};

}  // namespace convd::cpu::winograd_tiles

#pragma GCC diagnostic pop

#endif  // CONVD_KERNELS_CPU_WINOGRAD_TILES_H_
