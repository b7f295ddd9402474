// Fashion-MNIST from Debian's dataset-fashion-mnist package (gzipped IDX
// files), for the tests that classify real images.
#ifndef CONVD_TESTS_MODELS_FASHION_MNIST_H_
#define CONVD_TESTS_MODELS_FASHION_MNIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace convd::testing {

// Debian's dataset-fashion-mnist; CONVD_FASHION_MNIST_DIR overrides it (the
// GPU machine gets the files carried, not the package).
std::string FashionMnistDir();

struct IdxImages {
  int count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count x rows x cols
};

// Reads an IDX image file (magic 0x803), gzipped or not.
absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path);
// Reads an IDX label file (magic 0x801), gzipped or not.
absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path);

}  // namespace convd::testing

#endif  // CONVD_TESTS_MODELS_FASHION_MNIST_H_
