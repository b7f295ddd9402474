// Encoded images (PNG, JPEG) to a model's input pixels. Decoding is
// defensive: the format is sniffed from the bytes, truncated or corrupt data
// is an error (libjpeg's "recoverable" warnings included), and the pixel
// count is checked against a cap before any pixel memory is allocated, so a
// small file that claims a huge image (a decompression bomb) is refused.
// Every error is INVALID_ARGUMENT and names the problem.
#ifndef CONVD_SERVER_IMAGE_IMAGE_H_
#define CONVD_SERVER_IMAGE_IMAGE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace convd {

struct Image {
  int width = 0, height = 0;
  int channels = 0;             // 1 (grey) or 3 (RGB)
  std::vector<uint8_t> pixels;  // height x width x channels, interleaved
};

struct ImageLimits {
  int64_t max_pixels = int64_t{40} << 20;  // ~6500 x 6500
};

absl::StatusOr<Image> DecodeImage(std::string_view encoded, const ImageLimits& limits = {});

// `image` resized (bilinear, pixel centres aligned) to height x width and
// converted to `channels` (1: ITU-R BT.601 luma; 3: RGB, grey replicated),
// planar: channels x height x width.
std::vector<uint8_t> ToPlanar(const Image& image, int channels, int height, int width);

}  // namespace convd

#endif  // CONVD_SERVER_IMAGE_IMAGE_H_
