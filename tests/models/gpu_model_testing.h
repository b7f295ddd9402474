// Helpers shared by the tests that run whole networks on the GPU
// (gpu_forward_test, gpu_accuracy_test) and their _emulated twins.
// Header-only, without a dependency on //kernels/cuda:device: each test
// links the real device library or its emulated twin (bazel/cuda.bzl).
#ifndef CONVD_TESTS_MODELS_GPU_MODEL_TESTING_H_
#define CONVD_TESTS_MODELS_GPU_MODEL_TESTING_H_

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/tensor.h"
#include "kernels/cuda/device.h"

namespace convd::testing {

// Whether the tests run on the host emulation of CUDA, where kernels run
// thousands of times slower: LeNet-5 stands in for AlexNet there.
inline bool Emulated() {
  static const bool emulated = cuda::DeviceIsEmulated();
  return emulated;
}

// The model of the tests that run one model several times.
inline std::string LargeModel() { return Emulated() ? "models/lenet5" : "models/alexnet"; }

// Whether a test that runs several models leaves this one out.
inline bool LeftToGpus(const std::string& model_dir) {
  return Emulated() && model_dir != "models/lenet5";
}

// Largest |gpu - cpu| relative to the largest |cpu|.
inline double RelativeDifference(const Tensor& gpu, const Tensor& cpu) {
  double largest = 0, difference = 0;
  for (int64_t i = 0; i < cpu.shape().elements(); ++i) {
    largest = std::max(largest, std::abs(double{cpu.data()[i]}));
    difference = std::max(difference, std::abs(double{gpu.data()[i]} - cpu.data()[i]));
  }
  return largest > 0 ? difference / largest : difference;
}

}  // namespace convd::testing

#endif  // CONVD_TESTS_MODELS_GPU_MODEL_TESTING_H_
