#include "kernels/cpu/conv_algorithms.h"

#include <algorithm>

namespace convd::cpu {

const std::vector<const ConvAlgorithm*>& AllConvAlgorithms() {
  static const auto* algorithms =
      new std::vector<const ConvAlgorithm*>{&WinogradF43Conv(),
                                            &WinogradF23Conv(),
                                            &WinogradF25Conv(),
                                            &WinogradF45Conv(),
                                            &WinogradF43SpaceToDepthConv(),
                                            &Im2colGemmConv(),
                                            &DirectConv()};
  return *algorithms;
}

const ConvAlgorithm* FindConvAlgorithm(std::string_view name) {
  for (const ConvAlgorithm* algorithm : AllConvAlgorithms()) {
    if (algorithm->name() == name) return algorithm;
  }
  return nullptr;
}

ColumnRange InsideColumns(int offset, int stride, int width, int q) {
  const int begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int end = width - 1 - offset < 0 ? 0 : (width - 1 - offset) / stride + 1;
  return {std::min(begin, q), std::clamp(end, std::min(begin, q), q)};
}

}  // namespace convd::cpu
