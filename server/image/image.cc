#include "server/image/image.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

// After <cstdio>: jpeglib.h needs FILE and size_t.
#include <jpeglib.h>
#include <png.h>

namespace convd {
namespace {

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

absl::Status CheckSize(int64_t width, int64_t height, const ImageLimits& limits,
                       const char* format) {
  if (width < 1 || height < 1) {
    return Invalid(absl::StrCat(format, " image has no pixels (", width, "x", height, ")"));
  }
  if (width * height > limits.max_pixels) {
    return Invalid(absl::StrCat(format, " image is ", width, "x", height, " = ", width * height,
                                " pixels; the limit is ", limits.max_pixels));
  }
  return absl::OkStatus();
}

// libjpeg reports errors through callbacks; these jump back to DecodeJpeg
// with the message instead of exiting the process. Warnings (corrupt but
// "recoverable" data, e.g. a truncated file padded with grey) are errors too.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void JpegErrorExit(j_common_ptr info) {
  JpegError* error = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

void JpegMessage(j_common_ptr info, int level) {
  if (level < 0) JpegErrorExit(info);  // a warning: refuse the data
}

// Returns false with `message` set on failure. Plain C-style state only:
// longjmp must not skip C++ destructors.
bool DecodeJpegInto(const uint8_t* data, size_t size, const ImageLimits& limits, Image* image,
                    char* message, size_t message_size) {
  jpeg_decompress_struct info;
  JpegError error;
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = JpegErrorExit;
  error.manager.emit_message = JpegMessage;
  error.message[0] = '\0';
  if (setjmp(error.jump)) {
    std::snprintf(message, message_size, "%s", error.message);
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  const int64_t pixels = int64_t{info.image_width} * info.image_height;
  if (info.image_width < 1 || info.image_height < 1 || pixels > limits.max_pixels) {
    std::snprintf(message, message_size, "size:%u:%u", info.image_width, info.image_height);
    jpeg_destroy_decompress(&info);
    return false;
  }
  info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  image->width = static_cast<int>(info.output_width);
  image->height = static_cast<int>(info.output_height);
  image->channels = info.output_components;
  // Sized before the loop; the loop itself allocates nothing.
  image->pixels.resize(static_cast<size_t>(image->width) * image->height * image->channels);
  const size_t stride = static_cast<size_t>(image->width) * image->channels;
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image->pixels.data() + info.output_scanline * stride;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

absl::StatusOr<Image> DecodeJpeg(std::string_view encoded, const ImageLimits& limits) {
  Image image;
  char message[JMSG_LENGTH_MAX + 64];
  if (!DecodeJpegInto(reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size(), limits,
                      &image, message, sizeof(message))) {
    unsigned width = 0, height = 0;
    if (std::sscanf(message, "size:%u:%u", &width, &height) == 2) {
      return CheckSize(width, height, limits, "JPEG");
    }
    return Invalid(absl::StrCat("JPEG data is corrupt or truncated: ", message));
  }
  if (image.channels != 1 && image.channels != 3) {
    return Invalid(absl::StrCat("JPEG with ", image.channels, " channels is not supported"));
  }
  return image;
}

absl::StatusOr<Image> DecodePng(std::string_view encoded, const ImageLimits& limits) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, encoded.data(), encoded.size())) {
    return Invalid(absl::StrCat("PNG data is corrupt: ", png.message));
  }
  if (absl::Status size = CheckSize(png.width, png.height, limits, "PNG"); !size.ok()) {
    png_image_free(&png);
    return size;
  }
  Image image;
  const bool color = (png.format & PNG_FORMAT_FLAG_COLOR) != 0;
  png.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;  // alpha composed on black
  image.width = static_cast<int>(png.width);
  image.height = static_cast<int>(png.height);
  image.channels = color ? 3 : 1;
  image.pixels.resize(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr)) {
    return Invalid(absl::StrCat("PNG data is corrupt or truncated: ", png.message));
  }
  return image;
}

}  // namespace

absl::StatusOr<Image> DecodeImage(std::string_view encoded, const ImageLimits& limits) {
  if (encoded.empty()) return Invalid("the image is empty (0 bytes)");
  static constexpr unsigned char kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (encoded.size() >= sizeof(kPng) && std::memcmp(encoded.data(), kPng, sizeof(kPng)) == 0) {
    return DecodePng(encoded, limits);
  }
  if (encoded.size() >= 3 && static_cast<unsigned char>(encoded[0]) == 0xFF &&
      static_cast<unsigned char>(encoded[1]) == 0xD8 &&
      static_cast<unsigned char>(encoded[2]) == 0xFF) {
    return DecodeJpeg(encoded, limits);
  }
  return Invalid(absl::StrCat("the data (", encoded.size(),
                              " bytes) is not a PNG or JPEG image"));
}

std::vector<uint8_t> ToPlanar(const Image& image, int channels, int height, int width) {
  std::vector<uint8_t> out(static_cast<size_t>(channels) * height * width);
  const double scale_y = static_cast<double>(image.height) / height;
  const double scale_x = static_cast<double>(image.width) / width;
  auto at = [&](int y, int x, int c) -> double {
    const uint8_t* p = &image.pixels[(static_cast<size_t>(y) * image.width + x) * image.channels];
    if (image.channels == channels) return p[c];
    if (channels == 1) return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    return p[0];  // grey to RGB
  };
  for (int y = 0; y < height; ++y) {
    const double source_y = std::clamp((y + 0.5) * scale_y - 0.5, 0.0, image.height - 1.0);
    const int y0 = static_cast<int>(source_y), y1 = std::min(y0 + 1, image.height - 1);
    const double wy = source_y - y0;
    for (int x = 0; x < width; ++x) {
      const double source_x = std::clamp((x + 0.5) * scale_x - 0.5, 0.0, image.width - 1.0);
      const int x0 = static_cast<int>(source_x), x1 = std::min(x0 + 1, image.width - 1);
      const double wx = source_x - x0;
      for (int c = 0; c < channels; ++c) {
        const double value = (1 - wy) * ((1 - wx) * at(y0, x0, c) + wx * at(y0, x1, c)) +
                             wy * ((1 - wx) * at(y1, x0, c) + wx * at(y1, x1, c));
        out[(static_cast<size_t>(c) * height + y) * width + x] =
            static_cast<uint8_t>(std::lround(std::clamp(value, 0.0, 255.0)));
      }
    }
  }
  return out;
}

}  // namespace convd
