#include "tests/models/fashion_mnist.h"

#include <cstdlib>

#include <zlib.h>

#include "absl/strings/str_cat.h"

namespace convd::testing {

std::string FashionMnistDir() {
  const char* dir = std::getenv("CONVD_FASHION_MNIST_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/usr/share/datasets/fashion-mnist";
}
namespace {

absl::StatusOr<std::string> ReadGzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");  // reads plain files as they are
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string data;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0) data.append(buffer, n);
  const bool failed = n < 0;
  gzclose(file);
  if (failed) return absl::DataLossError(absl::StrCat("cannot decompress ", path));
  return data;
}

uint32_t BigEndian(const std::string& data, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data() + offset);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path) {
  absl::StatusOr<std::string> data = ReadGzip(path);
  if (!data.ok()) return data.status();
  if (data->size() < 16 || BigEndian(*data, 0) != 0x803) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an IDX image file"));
  }
  IdxImages images;
  images.count = static_cast<int>(BigEndian(*data, 4));
  images.rows = static_cast<int>(BigEndian(*data, 8));
  images.cols = static_cast<int>(BigEndian(*data, 12));
  const size_t bytes = size_t{1} * images.count * images.rows * images.cols;
  if (data->size() != 16 + bytes) {
    return absl::DataLossError(absl::StrCat(path, ": expected ", bytes, " pixel bytes"));
  }
  images.pixels.assign(data->begin() + 16, data->end());
  return images;
}

absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path) {
  absl::StatusOr<std::string> data = ReadGzip(path);
  if (!data.ok()) return data.status();
  if (data->size() < 8 || BigEndian(*data, 0) != 0x801 ||
      data->size() != 8 + BigEndian(*data, 4)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an IDX label file"));
  }
  return std::vector<uint8_t>(data->begin() + 8, data->end());
}

}  // namespace convd::testing
