// libFuzzer target for the image path: any bytes either decode (and then
// convert to a model input) or fail with a Status; nothing may crash, read
// out of bounds or allocate past the pixel cap. Built with clang outside
// Bazel (make fuzz-image), seeded with small PNG and JPEG files.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  convd::ImageLimits limits;
  limits.max_pixels = 4 << 20;  // keeps each run fast; the check is the same
  auto image = convd::DecodeImage(bytes, limits);
  if (image.ok()) (void)convd::ToPlanar(*image, 3, 17, 13);
  return 0;
}
