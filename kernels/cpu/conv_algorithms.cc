#include "kernels/cpu/conv_algorithms.h"

namespace convd::cpu {

const std::vector<const ConvAlgorithm*>& AllConvAlgorithms() {
  static const auto* algorithms = new std::vector<const ConvAlgorithm*>{
      &WinogradF43Conv(), &WinogradF23Conv(), &Im2colGemmConv(), &DirectConv()};
  return *algorithms;
}

const ConvAlgorithm* FindConvAlgorithm(std::string_view name) {
  for (const ConvAlgorithm* algorithm : AllConvAlgorithms()) {
    if (algorithm->name() == name) return algorithm;
  }
  return nullptr;
}

}  // namespace convd::cpu
