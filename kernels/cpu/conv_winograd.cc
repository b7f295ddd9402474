// Winograd F(2x2,3x3) and F(4x4,3x3) for 3x3, stride-1, undilated layers.
//
// Load time: each filter g [3x3] becomes U = G g G^T, stored
//   U[group][xi][K/g][C/g]   (xi = one of alpha*alpha transform positions).
// Run time, per (group, block of tiles) task in its own workspace slot:
//   1. input transform  V[xi][c][t] = (B^T d B)[xi] for each tile t
//   2. alpha^2 GEMMs     M[xi] = U[xi] (K/g x C/g) * V[xi] (C/g x tiles)
//   3. output transform  Y = A^T M A, fused with bias, residual, activation.
// Tiles are numbered over the whole batch, so a block may span images; the
// block size bounds the workspace and keeps V and M in cache.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "kernels/conv_algorithm.h"
#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/work_estimate.h"
#include "kernels/epilogue_inl.h"
#include "kernels/winograd_transforms.h"

namespace convd::cpu {
namespace {

template <int M>
class WinogradConvAlgorithm final : public ConvAlgorithm {
  using T = winograd::Transforms<M>;
  static constexpr int kAlpha = T::kAlpha;
  static constexpr int kPositions = kAlpha * kAlpha;
  static constexpr int kTilesPerBlock = M == 2 ? 128 : 64;

 public:
  std::string_view name() const override {
    return M == 2 ? "winograd_f23" : "winograd_f43";
  }

  absl::Status CanImplement(const ConvParams& p) const override {
    if (p.r != 3 || p.s != 3 || p.stride_h != 1 || p.stride_w != 1 ||
        p.dilation_h != 1 || p.dilation_w != 1) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s needs 3x3 stride 1 dilation 1; got %dx%d stride %dx%d "
          "dilation %dx%d",
          name(), p.r, p.s, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w));
    }
    return absl::OkStatus();
  }

  int64_t WorkspaceBytes(const ConvParams& p, int threads) const override {
    const int64_t per_slot = int64_t{kPositions} *
                             (p.c_per_group() + p.k_per_group()) * kTilesPerBlock;
    return int64_t{threads} * per_slot * sizeof(float);
  }

  absl::StatusOr<PackedWeights> PrepareWeights(const ConvParams& p,
                                               const float* weights) const override {
    if (absl::Status status = CanImplement(p); !status.ok()) return status;
    const int cg = p.c_per_group(), kg = p.k_per_group();
    PackedWeights packed{AlignedBuffer(int64_t{kPositions} * p.k * cg)};
    float* u = packed.data.data();
    for (int k = 0; k < p.k; ++k) {
      const int g = k / kg, kk = k % kg;
      for (int c = 0; c < cg; ++c) {
        const float* filter = weights + (int64_t{k} * cg + c) * 9;
        // G g G^T in float64, rounded once.
        double gg[kAlpha][3];
        for (int i = 0; i < kAlpha; ++i) {
          for (int j = 0; j < 3; ++j) {
            gg[i][j] = T::kG[i][0] * filter[j] + T::kG[i][1] * filter[3 + j] +
                       T::kG[i][2] * filter[6 + j];
          }
        }
        for (int i = 0; i < kAlpha; ++i) {
          for (int j = 0; j < kAlpha; ++j) {
            const double v = gg[i][0] * T::kG[j][0] + gg[i][1] * T::kG[j][1] +
                             gg[i][2] * T::kG[j][2];
            u[((int64_t{g} * kPositions + i * kAlpha + j) * kg + kk) * cg + c] =
                static_cast<float>(v);
          }
        }
      }
    }
    return packed;
  }

  absl::Status Run(const ConvArgs& args, const ExecContext& context) const override {
    const ConvParams& p = args.params;
    const int tiles_h = (p.p + M - 1) / M, tiles_w = (p.q + M - 1) / M;
    const int64_t tiles_per_image = int64_t{tiles_h} * tiles_w;
    const int64_t total_tiles = tiles_per_image * p.n;
    const int64_t blocks = (total_tiles + kTilesPerBlock - 1) / kTilesPerBlock;
    const int64_t slot_floats = WorkspaceBytes(p, 1) / sizeof(float);
    // A block transforms its tiles in and out (a few operations per value)
    // and multiplies kPositions [kg x cg] x [cg x tiles] matrices.
    const int64_t values = int64_t{kPositions} * kTilesPerBlock;
    const int64_t work_per_block = values * p.c_per_group() * p.k_per_group() / kGemmMacsPerNs +
                                   values * (p.c_per_group() + p.k_per_group()) * 4;
    ParallelFor(context.thread_pool, blocks * p.groups, work_per_block,
                [&](int64_t begin, int64_t end, int slot) {
      float* v = args.workspace + slot * slot_floats;
      float* m = v + int64_t{kPositions} * p.c_per_group() * kTilesPerBlock;
      for (int64_t task = begin; task < end; ++task) {
        const int g = static_cast<int>(task % p.groups);
        const int64_t first_tile = task / p.groups * kTilesPerBlock;
        const int tiles = static_cast<int>(
            std::min<int64_t>(kTilesPerBlock, total_tiles - first_tile));
        RunBlock(args, g, first_tile, tiles, tiles_w, tiles_per_image, v, m);
      }
    });
    return absl::OkStatus();
  }

 private:
  void RunBlock(const ConvArgs& args, int g, int64_t first_tile, int tiles,
                int tiles_w, int64_t tiles_per_image, float* v, float* m) const {
    const ConvParams& p = args.params;
    const int cg = p.c_per_group(), kg = p.k_per_group();
    // 1. Input transform.
    for (int t = 0; t < tiles; ++t) {
      const int64_t tile = first_tile + t;
      const int n = static_cast<int>(tile / tiles_per_image);
      const int th = static_cast<int>(tile % tiles_per_image / tiles_w);
      const int tw = static_cast<int>(tile % tiles_w);
      const int h0 = th * M - p.pad_top, w0 = tw * M - p.pad_left;
      for (int c = 0; c < cg; ++c) {
        const float* in = args.input + (int64_t{n} * p.c + int64_t{g} * cg + c) * p.h * p.w;
        float d[kAlpha][kAlpha];
        for (int i = 0; i < kAlpha; ++i) {
          const int ih = h0 + i;
          for (int j = 0; j < kAlpha; ++j) {
            const int iw = w0 + j;
            d[i][j] = (ih >= 0 && ih < p.h && iw >= 0 && iw < p.w)
                          ? in[int64_t{ih} * p.w + iw]
                          : 0.0f;
          }
        }
        float bd[kAlpha][kAlpha];  // B^T d
        for (int i = 0; i < kAlpha; ++i) {
          for (int j = 0; j < kAlpha; ++j) {
            float acc = 0.0f;
            for (int x = 0; x < kAlpha; ++x) {
              if (T::kBT[i][x] != 0) acc += static_cast<float>(T::kBT[i][x]) * d[x][j];
            }
            bd[i][j] = acc;
          }
        }
        for (int i = 0; i < kAlpha; ++i) {
          for (int j = 0; j < kAlpha; ++j) {
            float acc = 0.0f;
            for (int x = 0; x < kAlpha; ++x) {
              if (T::kBT[j][x] != 0) acc += bd[i][x] * static_cast<float>(T::kBT[j][x]);
            }
            v[(int64_t{i * kAlpha + j} * cg + c) * tiles + t] = acc;
          }
        }
      }
    }
    // 2. One GEMM per transform position.
    const float* u = args.weights->data.data() + int64_t{g} * kPositions * kg * cg;
    for (int xi = 0; xi < kPositions; ++xi) {
      Sgemm(false, false, kg, tiles, cg, 1.0f, u + int64_t{xi} * kg * cg, cg,
            v + int64_t{xi} * cg * tiles, tiles, 0.0f,
            m + int64_t{xi} * kg * tiles, tiles);
    }
    // 3. Output transform + epilogue.
    const Epilogue& epilogue = args.epilogue;
    for (int kk = 0; kk < kg; ++kk) {
      const int k = g * kg + kk;
      const float bias = epilogue.bias ? epilogue.bias[k] : 0.0f;
      for (int t = 0; t < tiles; ++t) {
        const int64_t tile = first_tile + t;
        const int n = static_cast<int>(tile / tiles_per_image);
        const int th = static_cast<int>(tile % tiles_per_image / tiles_w);
        const int tw = static_cast<int>(tile % tiles_w);
        float mt[kAlpha][kAlpha];
        for (int xi = 0; xi < kPositions; ++xi) {
          mt[xi / kAlpha][xi % kAlpha] = m[(int64_t{xi} * kg + kk) * tiles + t];
        }
        float am[M][kAlpha];  // A^T m
        for (int i = 0; i < M; ++i) {
          for (int j = 0; j < kAlpha; ++j) {
            float acc = 0.0f;
            for (int x = 0; x < kAlpha; ++x) {
              if (T::kAT[i][x] != 0) acc += static_cast<float>(T::kAT[i][x]) * mt[x][j];
            }
            am[i][j] = acc;
          }
        }
        const int64_t plane_offset = (int64_t{n} * p.k + k) * p.p * p.q;
        for (int i = 0; i < M; ++i) {
          const int oh = th * M + i;
          if (oh >= p.p) break;
          for (int j = 0; j < M; ++j) {
            const int ow = tw * M + j;
            if (ow >= p.q) break;
            float y = bias;
            for (int x = 0; x < kAlpha; ++x) {
              if (T::kAT[j][x] != 0) y += am[i][x] * static_cast<float>(T::kAT[j][x]);
            }
            const int64_t index = plane_offset + int64_t{oh} * p.q + ow;
            if (epilogue.residual) y += epilogue.residual[index];
            args.output[index] = Activate(y, epilogue.activation);
          }
        }
      }
    }
  }
};

}  // namespace

const ConvAlgorithm& WinogradF23Conv() {
  static const WinogradConvAlgorithm<2> algorithm;
  return algorithm;
}

const ConvAlgorithm& WinogradF43Conv() {
  static const WinogradConvAlgorithm<4> algorithm;
  return algorithm;
}

}  // namespace convd::cpu
