// im2col's unrolling: the input patches of one image and group that output
// columns [col_begin, col_end) read, as the column matrix col
// [C/g*R*S x cols] of the product out = W * col (row (c*R + r)*S + s,
// column j: the input tap (r, s) of channel c reads for output column
// col_begin + j; zero where it reads padding). Two layouts:
//  - row-major (UnrollRowMajor), which PackedGemm then packs a block at a
//    time;
//  - the GEMM's own panels (UnrollIntoPanels), which PackedGemmPackedRight
//    reads as they are: no packing pass. Which columns read which input is
//    the same for every channel, so each tap's runs of columns are planned
//    once and every channel's row copies along them.
// UnrollsIntoPanels says which a layer takes (bench/RESULTS.md, "im2col
// unrolls into the GEMM's panels").
//
// Thread safety: no state; concurrent calls need their own outputs and
// plans.
#ifndef CONVD_KERNELS_CPU_IM2COL_UNROLL_H_
#define CONVD_KERNELS_CPU_IM2COL_UNROLL_H_

#include <cstdint>

#include "kernels/cpu/cpu_features.h"
#include "kernels/op_params.h"

namespace convd::cpu {

// Whether `p` unrolls into the GEMM's panels: layers of 4 or more channels
// a group. With fewer, planning each tap's runs costs about as much as the
// copies it saves (1 to 3 channels: LeNet's conv1, VGG's and AlexNet's
// first layers), and the row-major unrolling is faster.
bool UnrollsIntoPanels(const ConvParams& p);

// `in`: the group's first channel of one image. `col`: [C/g*R*S x cols]
// floats, row stride cols.
void UnrollRowMajor(const ConvParams& p, const float* in, int col_begin, int col_end, float* col);

// Floats of `plan` UnrollIntoPanels needs for blocks of up to `columns`
// columns (a multiple of 16 floats).
int64_t UnrollPlanFloats(const ConvParams& p, int columns);

// The same matrix, laid out as PackedRightOffset(cols, C/g*R*S, row, j)
// says: PackedRightOperandFloats(cols, C/g*R*S) floats at `packed` (the
// last panel's columns past cols are zeros). `plan`: UnrollPlanFloats
// floats, 8-byte aligned. `build`: the copies' (cpu_features.h); the CPU
// must support it.
void UnrollIntoPanels(CpuBuild build, const ConvParams& p, const float* in, int col_begin,
                      int col_end, float* plan, float* packed);

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_IM2COL_UNROLL_H_
