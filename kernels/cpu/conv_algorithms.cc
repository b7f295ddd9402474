#include "kernels/cpu/conv_algorithms.h"

#include <cstring>

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

PackedWeights PlainWeights(const ConvParams& params, const float* weights) {
  PackedWeights packed{AlignedBuffer(params.weight_elements())};
  std::memcpy(packed.data.data(), weights, packed.data.bytes());
  return packed;
}

}  // namespace convd::cpu
