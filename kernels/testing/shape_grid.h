// The shape grids every kernel test runs over, CPU and CUDA alike, so each
// backend is checked against the float64 reference on the same odd shapes
// (pads on one side, strides, dilation, groups, 1x1 planes, ...).
#ifndef CONVD_KERNELS_TESTING_SHAPE_GRID_H_
#define CONVD_KERNELS_TESTING_SHAPE_GRID_H_

#include "kernels/op_params.h"

namespace convd::testing {

struct ConvShape {
  int n, c, h, w, k, r, s, stride, pad_top, pad_left, pad_bottom, pad_right, dilation, groups;
};

// n c h w k r s stride pads(t,l,b,r) dilation groups
inline constexpr ConvShape kConvShapes[] = {
    {1, 3, 11, 13, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {2, 5, 9, 7, 6, 3, 3, 1, 0, 0, 0, 0, 1, 1},
    {3, 7, 17, 15, 9, 3, 3, 1, 2, 2, 2, 2, 1, 1},
    {2, 4, 10, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2},
    {1, 6, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6},
    {2, 3, 16, 16, 4, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    {1, 5, 9, 9, 7, 1, 1, 2, 0, 0, 0, 0, 1, 1},
    {2, 3, 19, 17, 5, 5, 5, 1, 2, 2, 2, 2, 1, 1},
    {1, 4, 20, 20, 3, 5, 5, 2, 2, 2, 2, 2, 1, 1},
    {2, 3, 23, 23, 4, 7, 7, 2, 3, 3, 3, 3, 1, 1},
    {1, 3, 35, 35, 5, 11, 11, 4, 2, 2, 2, 2, 1, 1},
    {2, 4, 9, 11, 5, 3, 3, 1, 2, 2, 2, 2, 2, 1},
    {1, 3, 1, 1, 4, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    {1, 2, 1, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {4, 17, 6, 6, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {1, 64, 14, 14, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 10, 9, 4, 3, 3, 1, 0, 1, 2, 1, 1, 1},
    {3, 8, 31, 29, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {1, 128, 40, 40, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {2, 6, 13, 13, 10, 3, 3, 2, 1, 1, 1, 1, 1, 2},
    {1, 1, 28, 28, 6, 5, 5, 1, 2, 2, 2, 2, 1, 1},
    // Filter counts that fill most of a 64-row GEMM tile, and three of them
    // (the CUDA SGEMM's TileRows).
    {2, 9, 12, 11, 60, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {1, 8, 7, 9, 150, 3, 3, 1, 1, 0, 1, 2, 1, 1},
    // Stride 2 with dilation 2 and uneven pads.
    {1, 3, 21, 19, 4, 3, 3, 2, 1, 2, 0, 1, 2, 1},
    // 5x5 stride 1 (Winograd F(2x2,5x5) on the CPU): LeNet's conv2, then
    // groups with pads on differing sides, then AlexNet's conv2 in small.
    {1, 6, 14, 14, 16, 5, 5, 1, 0, 0, 0, 0, 1, 1},
    {2, 24, 13, 11, 20, 5, 5, 1, 2, 1, 0, 2, 1, 2},
    {1, 64, 9, 9, 40, 5, 5, 1, 2, 2, 2, 2, 1, 1},
    // Stride 3 (the CPU's direct has constant-stride loops for 1, 2 and 4
    // only), two images of two 16-filter blocks over uneven pads.
    {2, 5, 16, 17, 20, 5, 5, 3, 1, 2, 1, 0, 1, 1},
    // No padding, and Winograd's last row of tiles overhangs the plane
    // (7 output rows) where its columns fit (8): the CPU's Winograd must
    // copy the rows, not read past the input (ASan).
    {1, 4, 9, 10, 6, 3, 3, 1, 0, 0, 0, 0, 1, 1},
    // Space-to-depth (the CPU's winograd_f43_s2d; the 5x5 and 11x11 ones
    // above too): 6x6 stride 2 over uneven pads, no zero taps; 9x9 stride 4
    // with three zero taps a side, pads on two sides only.
    {2, 3, 27, 30, 7, 6, 6, 2, 1, 0, 2, 1, 1, 1},
    {1, 2, 30, 26, 9, 9, 9, 4, 0, 3, 1, 0, 1, 1},
    // Planes too small to cut among the threads, so the CPU's im2col cuts
    // the filters instead (the 150-filter shape above too): a 7x7 1x1
    // layer whose last 6-filter panel is partial (ResNet-50's layer 4 in
    // small), and two groups of 74 filters.
    {1, 24, 7, 7, 230, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    {1, 16, 5, 6, 148, 1, 1, 1, 0, 0, 0, 0, 1, 2},
    // Output rows of 17 or more at strides 2 and 3, so that the CPU's
    // im2col unrolls whole 16-column panels from strided inputs: a 1x1
    // stride-2 layer (ResNet's downsampling in small), 3x3 stride 2 and 3
    // over pads (4 channels or more: unrolled into the GEMM's panels).
    {1, 6, 8, 41, 10, 1, 1, 2, 0, 0, 0, 0, 1, 1},
    {1, 4, 9, 35, 6, 3, 3, 2, 1, 1, 1, 1, 1, 1},
    {1, 5, 16, 52, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1},
    // A one-column plane: each output row is one column (the CPU's im2col
    // plans the most runs of columns a tap).
    {1, 4, 7, 1, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    // 17 panels of output columns and too few filters to cut: the CPU's
    // im2col makes its 4 column blocks 6 on a 3-thread pool.
    {1, 5, 16, 17, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1},
};

inline ConvParams ToConvParams(const ConvShape& x) {
  ConvParams p;
  p.n = x.n, p.c = x.c, p.h = x.h, p.w = x.w, p.k = x.k, p.r = x.r, p.s = x.s;
  p.stride_h = p.stride_w = x.stride;
  p.pad_top = x.pad_top, p.pad_left = x.pad_left;
  p.pad_bottom = x.pad_bottom, p.pad_right = x.pad_right;
  p.dilation_h = p.dilation_w = x.dilation;
  p.groups = x.groups;
  return p;
}

struct PoolCase {
  int n, c, h, w, kernel, stride, pad_top, pad_left, pad_bottom, pad_right;
  bool ceil_mode;
};

inline constexpr PoolCase kPoolCases[] = {
    {1, 3, 13, 13, 3, 2, 0, 0, 0, 0, false},
    {2, 5, 55, 55, 3, 2, 0, 0, 0, 0, false},
    {1, 4, 14, 15, 3, 2, 0, 0, 0, 0, true},
    {3, 2, 7, 9, 2, 2, 1, 1, 1, 1, true},
    {1, 2, 10, 11, 3, 3, 1, 1, 1, 1, true},
    {2, 3, 6, 7, 3, 1, 1, 0, 2, 1, false},
    {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false},
    {2, 3, 8, 8, 8, 8, 0, 0, 0, 0, false},
    {1, 6, 5, 5, 4, 3, 1, 2, 1, 2, true},
    // 2x2 at stride 2 without padding (LeNet, VGG), odd sizes: with
    // ceil_mode the last row and column overhang.
    {2, 3, 9, 8, 2, 2, 0, 0, 0, 0, true},
    {1, 4, 10, 11, 2, 2, 0, 0, 0, 0, false},
    // LeNet's first pooling, and a row of 19 inside windows and one more
    // that overhangs.
    {2, 6, 28, 28, 2, 2, 0, 0, 0, 0, false},
    {1, 2, 7, 39, 2, 2, 0, 0, 0, 0, true},
    // 3x3 at stride 2 with padding (ResNet's max pooling), uneven pads.
    {2, 3, 12, 13, 3, 2, 1, 1, 1, 0, false},
};

// p and q are left for ComputePoolOutput.
inline PoolParams ToPoolParams(const PoolCase& x, PoolMethod method, bool count_include_pad) {
  PoolParams p;
  p.n = x.n, p.c = x.c, p.h = x.h, p.w = x.w, p.method = method;
  p.kernel_h = p.kernel_w = x.kernel;
  p.stride_h = p.stride_w = x.stride;
  p.pad_top = x.pad_top, p.pad_left = x.pad_left;
  p.pad_bottom = x.pad_bottom, p.pad_right = x.pad_right;
  p.ceil_mode = x.ceil_mode;
  p.count_include_pad = count_include_pad;
  return p;
}

}  // namespace convd::testing

#endif  // CONVD_KERNELS_TESTING_SHAPE_GRID_H_
