// Winograd convolution (winograd_launch.h). The transform matrices come
// from kernels/winograd_transforms.h, the same ones the CPU uses; loops
// over them have compile-time bounds and unroll, so the constants fold.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/cuda/device_params.h"
#include "kernels/cuda/epilogue.cuh"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sgemm_launch.h"
#include "kernels/cuda/winograd_launch.h"
#include "kernels/winograd_transforms.h"

namespace convd::cuda {
namespace {

struct Tiling {
  int tiles_h, tiles_w;
  CONVD_HOST_DEVICE int64_t per_image() const { return int64_t{tiles_h} * tiles_w; }
};

// The row stride of V's and M's [tiles] rows for `tiles` tiles.
int64_t TileStride(int64_t tiles) { return Float4Columns(tiles); }

// The transforms as floats, passed to kernels by value (kernel parameters
// live in constant memory; winograd::Transforms' double arrays are host
// data nvcc cannot read on the device).
template <int M, int R>
struct FloatTransforms {
  static constexpr int kAlpha = winograd::Transforms<M, R>::kAlpha;
  float bt[kAlpha][kAlpha];
  float at[M][kAlpha];
};

template <int M, int R>
FloatTransforms<M, R> MakeFloatTransforms() {
  using T = winograd::Transforms<M, R>;
  FloatTransforms<M, R> f;
  for (int y = 0; y < T::kAlpha; ++y) {
    for (int x = 0; x < T::kAlpha; ++x) f.bt[y][x] = static_cast<float>(T::kBT[y][x]);
  }
  for (int y = 0; y < M; ++y) {
    for (int x = 0; x < T::kAlpha; ++x) f.at[y][x] = static_cast<float>(T::kAT[y][x]);
  }
  return f;
}

Tiling TilesOf(int m, const DeviceConvShape& s) {
  return {(s.p + m - 1) / m, (s.q + m - 1) / m};
}

// Calls f(m, r) with `variant`'s output tile side m and filter side r as
// std::integral_constant<int, ...>: the one place a variant's sizes are
// spelled, for the templates and for the functions that take a variant.
template <class F>
decltype(auto) WithSizes(WinogradVariant variant, F&& f) {
  using std::integral_constant;
  switch (variant) {
    case WinogradVariant::kF43:
      return f(integral_constant<int, 4>(), integral_constant<int, 3>());
    case WinogradVariant::kF25:
      return f(integral_constant<int, 2>(), integral_constant<int, 5>());
    case WinogradVariant::kF45:
      return f(integral_constant<int, 4>(), integral_constant<int, 5>());
    case WinogradVariant::kF23:
      break;
  }
  return f(integral_constant<int, 2>(), integral_constant<int, 3>());
}

// Workspace for `images` images of F(m x m, r x r) (WinogradWorkspaceFloats).
int64_t WorkspaceFloats(int m, int r, const DeviceConvShape& s, int images) {
  const int64_t alpha = m + r - 1;
  // Each image's tiles rounded up as TileStride rounds a chunk's (which is
  // never more), so `images` images always make one chunk.
  return alpha * alpha * (int64_t{s.c} + s.k) * images * TileStride(TilesOf(m, s).per_image());
}

// out = a x b, and out = a x b^T: the four small products of the transforms
// (B^T d, (B^T d) B, A^T M, (A^T M) A), unrolled at compile time.
template <int R, int K, int C>
__device__ __forceinline__ void MatMul(const float (&a)[R][K], const float (&b)[K][C],
                                       float (&out)[R][C]) {
#pragma unroll
  for (int y = 0; y < R; ++y) {
#pragma unroll
    for (int x = 0; x < C; ++x) {
      float sum = 0.0f;
#pragma unroll
      for (int j = 0; j < K; ++j) sum += a[y][j] * b[j][x];
      out[y][x] = sum;
    }
  }
}

template <int R, int K, int C>
__device__ __forceinline__ void MatMulTransposed(const float (&a)[R][K], const float (&b)[C][K],
                                                 float (&out)[R][C]) {
#pragma unroll
  for (int y = 0; y < R; ++y) {
#pragma unroll
    for (int x = 0; x < C; ++x) {
      float sum = 0.0f;
#pragma unroll
      for (int j = 0; j < K; ++j) sum += a[y][j] * b[x][j];
      out[y][x] = sum;
    }
  }
}

// V[xi][nu][c][t] for the tiles of `images` images from `input` (rows of
// `tile_stride` floats).
template <int M, int R>
__global__ void InputTransformKernel(const float* __restrict__ input, DeviceConvShape s,
                                     Tiling tiling, int images, int64_t tile_stride,
                                     FloatTransforms<M, R> transforms, float* __restrict__ v) {
  constexpr int kAlpha = FloatTransforms<M, R>::kAlpha;
  const int64_t tiles = images * tiling.per_image();
  const int64_t total = tiles * s.c;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = i % tiles;
    const int c = static_cast<int>(i / tiles);
    const int image = static_cast<int>(t / tiling.per_image());
    const int tile = static_cast<int>(t % tiling.per_image());
    const int h0 = (tile / tiling.tiles_w) * M - s.pad_top;
    const int w0 = (tile % tiling.tiles_w) * M - s.pad_left;
    const float* plane = input + (int64_t{image} * s.c + c) * s.h * s.w;
    float d[kAlpha][kAlpha];
#pragma unroll
    for (int y = 0; y < kAlpha; ++y) {
#pragma unroll
      for (int x = 0; x < kAlpha; ++x) {
        const int ih = h0 + y, iw = w0 + x;
        d[y][x] = ih >= 0 && ih < s.h && iw >= 0 && iw < s.w ? plane[int64_t{ih} * s.w + iw] : 0.0f;
      }
    }
    float bd[kAlpha][kAlpha], bdb[kAlpha][kAlpha];
    MatMul(transforms.bt, d, bd);             // B^T d
    MatMulTransposed(bd, transforms.bt, bdb);  // (B^T d) B
    const int64_t plane_stride = int64_t{s.c} * tile_stride;  // between (xi, nu) entries
#pragma unroll
    for (int y = 0; y < kAlpha; ++y) {
#pragma unroll
      for (int x = 0; x < kAlpha; ++x) {
        v[(y * kAlpha + x) * plane_stride + int64_t{c} * tile_stride + t] = bdb[y][x];
      }
    }
  }
}

// y = act(A^T M A + bias + residual) for every (k, tile), into NCHW output
// of the chunk's first image; M's rows `tile_stride` floats apart.
template <int M, int R>
__global__ void OutputTransformKernel(const float* __restrict__ mm, DeviceConvShape s,
                                      Tiling tiling, int images, int64_t tile_stride,
                                      FloatTransforms<M, R> transforms, ConvEpilogue epilogue,
                                      float* __restrict__ output, const float* residual) {
  constexpr int kAlpha = FloatTransforms<M, R>::kAlpha;
  const int64_t tiles = images * tiling.per_image();
  const int64_t total = tiles * s.k;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = i % tiles;
    const int k = static_cast<int>(i / tiles);
    const int64_t plane_stride = int64_t{s.k} * tile_stride;
    float m_tile[kAlpha][kAlpha];
#pragma unroll
    for (int y = 0; y < kAlpha; ++y) {
#pragma unroll
      for (int x = 0; x < kAlpha; ++x) {
        m_tile[y][x] = mm[(y * kAlpha + x) * plane_stride + int64_t{k} * tile_stride + t];
      }
    }
    float am[M][kAlpha], ama[M][M];
    MatMul(transforms.at, m_tile, am);         // A^T M
    MatMulTransposed(am, transforms.at, ama);  // (A^T M) A
    const int image = static_cast<int>(t / tiling.per_image());
    const int tile = static_cast<int>(t % tiling.per_image());
    const int p0 = (tile / tiling.tiles_w) * M, q0 = (tile % tiling.tiles_w) * M;
    const float bias = epilogue.bias != nullptr ? epilogue.bias[k] : 0.0f;
    const int64_t plane_base = (int64_t{image} * s.k + k) * s.p * s.q;
#pragma unroll
    for (int y = 0; y < M; ++y) {
#pragma unroll
      for (int x = 0; x < M; ++x) {
        const int p = p0 + y, q = q0 + x;
        if (p >= s.p || q >= s.q) continue;
        float sum = ama[y][x] + bias;
        const int64_t at = plane_base + int64_t{p} * s.q + q;
        if (residual != nullptr) sum += residual[at];
        output[at] = DeviceActivate(sum, epilogue.activation);
      }
    }
  }
}

template <int M, int R>
void TransformFilters(const float* weights, int k, int c, float* transformed) {
  using T = winograd::Transforms<M, R>;
  constexpr int kAlpha = T::kAlpha;
  for (int ko = 0; ko < k; ++ko) {
    for (int ci = 0; ci < c; ++ci) {
      const float* g = weights + (int64_t{ko} * c + ci) * R * R;
      double gg[kAlpha][R];  // G g
      for (int y = 0; y < kAlpha; ++y) {
        for (int x = 0; x < R; ++x) {
          double sum = 0;
          for (int j = 0; j < R; ++j) sum += T::kG[y][j] * g[j * R + x];
          gg[y][x] = sum;
        }
      }
      for (int y = 0; y < kAlpha; ++y) {
        for (int x = 0; x < kAlpha; ++x) {
          double sum = 0;
          for (int j = 0; j < R; ++j) sum += gg[y][j] * T::kG[x][j];
          transformed[(int64_t{y * kAlpha + x} * k + ko) * c + ci] = static_cast<float>(sum);
        }
      }
    }
  }
}

template <int M, int R>
cudaError_t Launch(const DeviceConvShape& s, const float* input, const float* filters,
                   const ConvEpilogue& epilogue, float* workspace, int64_t workspace_floats,
                   float* output, cudaStream_t stream, GemmMath math) {
  constexpr int kAlpha = FloatTransforms<M, R>::kAlpha;
  const Tiling tiling = TilesOf(M, s);
  const FloatTransforms<M, R> transforms = MakeFloatTransforms<M, R>();
  const int64_t per_image = WorkspaceFloats(M, R, s, 1);
  if (workspace_floats < per_image) return cudaErrorInvalidValue;
  const int chunk = static_cast<int>(std::min<int64_t>(s.n, workspace_floats / per_image));
  for (int n0 = 0; n0 < s.n; n0 += chunk) {
    const int images = std::min(chunk, s.n - n0);
    const int64_t tiles = images * tiling.per_image();
    const int64_t tile_stride = TileStride(tiles);
    float* v = workspace;
    float* mm = workspace + int64_t{kAlpha} * kAlpha * s.c * tile_stride;
    const auto input_transform = InputTransformKernel<M, R>;  // one macro argument
    CONVD_LAUNCH(GridBlocks(tiles * s.c), kThreadsPerBlock, stream, input_transform,
                 input + int64_t{n0} * s.c * s.h * s.w, s, tiling, images, tile_stride, transforms,
                 v);
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
    // Per group g, at each of the alpha^2 positions: its K/groups rows of U
    // times its C/groups rows of V, into its K/groups rows of M.
    const int kg = s.k_per_group(), cg = s.c_per_group();
    GemmShape gemm;
    gemm.m = kg;
    gemm.n = static_cast<int>(tiles);
    gemm.k = cg;
    gemm.lda = cg;
    gemm.ldb = tile_stride;
    gemm.ldc = tile_stride;
    gemm.stride_a = int64_t{s.k} * cg;
    gemm.stride_b = int64_t{s.c} * tile_stride;
    gemm.stride_c = int64_t{s.k} * tile_stride;
    gemm.batch = kAlpha * kAlpha;
    for (int g = 0; g < s.groups; ++g) {
      if (cudaError_t e =
              LaunchSgemm(gemm, filters + int64_t{g} * kg * cg, v + int64_t{g} * cg * tile_stride,
                          mm + int64_t{g} * kg * tile_stride, GemmEpilogue(), stream, math);
          e != cudaSuccess) {
        return e;
      }
    }
    const int64_t offset = int64_t{n0} * s.k * s.p * s.q;
    const auto output_transform = OutputTransformKernel<M, R>;
    CONVD_LAUNCH(GridBlocks(tiles * s.k), kThreadsPerBlock, stream, output_transform, mm, s, tiling,
                 images, tile_stride, transforms, epilogue, output + offset,
                 epilogue.residual == nullptr ? nullptr : epilogue.residual + offset);
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace

int WinogradOutputTile(WinogradVariant variant) {
  return WithSizes(variant, [](auto m, auto) { return m(); });
}

int WinogradFilterSide(WinogradVariant variant) {
  return WithSizes(variant, [](auto, auto r) { return r(); });
}

const char* WinogradVariantName(WinogradVariant variant) {
  switch (variant) {
    case WinogradVariant::kF23:
      return "F(2x2,3x3)";
    case WinogradVariant::kF43:
      return "F(4x4,3x3)";
    case WinogradVariant::kF25:
      return "F(2x2,5x5)";
    case WinogradVariant::kF45:
      return "F(4x4,5x5)";
  }
  return "?";
}

bool WinogradApplies(WinogradVariant variant, const DeviceConvShape& s) {
  const int r = WinogradFilterSide(variant);
  return s.r == r && s.s == r && s.stride_h == 1 && s.stride_w == 1 && s.dilation_h == 1 &&
         s.dilation_w == 1;
}

std::vector<float> WinogradTransformFilters(WinogradVariant variant, const DeviceConvShape& s,
                                            const float* weights) {
  if (!WinogradApplies(variant, s)) return {};
  return WithSizes(variant, [&](auto m, auto r) {
    constexpr int kAlpha = winograd::Transforms<m(), r()>::kAlpha;
    const int c = s.c_per_group();
    std::vector<float> transformed(static_cast<size_t>(kAlpha * kAlpha) * s.k * c);
    TransformFilters<m(), r()>(weights, s.k, c, transformed.data());
    return transformed;
  });
}

int64_t WinogradWorkspaceFloats(WinogradVariant variant, const DeviceConvShape& s, int images) {
  return WorkspaceFloats(WinogradOutputTile(variant), WinogradFilterSide(variant), s, images);
}

cudaError_t LaunchConvWinograd(WinogradVariant variant, const DeviceConvShape& s,
                               const float* input, const float* transformed_filters,
                               const ConvEpilogue& epilogue, float* workspace,
                               int64_t workspace_floats, float* output, cudaStream_t stream,
                               GemmMath math) {
  if (!WinogradApplies(variant, s) || s.n <= 0 || s.c <= 0 || s.k <= 0 || s.p <= 0 || s.q <= 0 ||
      input == nullptr || transformed_filters == nullptr || workspace == nullptr ||
      output == nullptr) {
    return cudaErrorInvalidValue;
  }
  return WithSizes(variant, [&](auto m, auto r) {
    return Launch<m(), r()>(s, input, transformed_filters, epilogue, workspace, workspace_floats,
                            output, stream, math);
  });
}

}  // namespace convd::cuda
