// The CPU backend's convolution algorithms, in the planner's preference
// order for ties: winograd_f43, winograd_f23, winograd_f25, winograd_f45,
// winograd_f43_s2d, im2col, direct.
#ifndef CONVD_KERNELS_CPU_CONV_ALGORITHMS_H_
#define CONVD_KERNELS_CPU_CONV_ALGORITHMS_H_

#include <string_view>
#include <vector>

#include "kernels/conv_algorithm.h"
#include "kernels/cpu/cpu_features.h"

namespace convd::cpu {

// Direct's loops, and Winograd's transforms, are built for AVX2 + FMA and
// AVX-512 too, the widest the CPU runs used.
const ConvAlgorithm& DirectConv();
// Direct's two loop orders, chosen per layer.
enum class DirectLoops {
  kFilters,  // a vector holds one output of several filters (any stride)
  kRows,     // a vector holds outputs along a row (stride 1x1 only)
};
// The loops DirectConv() runs for `p`: the row loops on stride-1 layers
// where a row's last vector wastes few lanes, else the filter loops.
DirectLoops DirectConvLoops(const ConvParams& p);
// One build of DirectConv (cpu_features.h), whatever the widest this CPU
// has, running `loops` wherever they can (the filter loops where the row
// loops cannot): for tests, so that every build and loop order the CPU
// runs is checked. The CPU must support `build`. Not in AllConvAlgorithms.
const ConvAlgorithm& DirectConvForTesting(CpuBuild build, DirectLoops loops);
// im2col's unrolling is built for AVX2 and AVX-512 too; its GEMM is
// packed_gemm.h's.
const ConvAlgorithm& Im2colGemmConv();
// One build of Im2colGemmConv's unrolling, as DirectConvForTesting.
const ConvAlgorithm& Im2colGemmConvForTesting(CpuBuild build);
const ConvAlgorithm& WinogradF23Conv();
const ConvAlgorithm& WinogradF43Conv();
const ConvAlgorithm& WinogradF25Conv();  // F(2x2,5x5)
const ConvAlgorithm& WinogradF45Conv();  // F(4x4,5x5)
// "winograd_f43_s2d": a strided layer rearranged space-to-depth into a 3x3
// stride-1 one over stride_h * stride_w times the channels, which
// WinogradF43Conv runs (filters of 5x5 or 6x6 at stride 2, 9x9 to 12x12 at
// stride 4: AlexNet's conv1). One group, dilation 1.
const ConvAlgorithm& WinogradF43SpaceToDepthConv();
// The Winograd algorithm named `name` (winograd_f23, ...) in one build of
// its transforms, as DirectConvForTesting; nullptr for other names.
const ConvAlgorithm* WinogradConvForTesting(std::string_view name, CpuBuild build);

// All of the above; the pointers live for the whole process.
const std::vector<const ConvAlgorithm*>& AllConvAlgorithms();

// nullptr when no algorithm has that name.
const ConvAlgorithm* FindConvAlgorithm(std::string_view name);

// The output columns [begin, end) of a filter tap whose input column,
// ow * stride + offset, lies inside [0, width); the others read padding.
// 0 <= begin <= end <= q. Shared by direct and im2col.
struct ColumnRange {
  int begin, end;
};
ColumnRange InsideColumns(int offset, int stride, int width, int q);

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_CONV_ALGORITHMS_H_
