// Image decoding on real PNG and JPEG files (encoded here with libpng and
// libjpeg from random pixels), the errors for bad data, and the conversion
// to a model's planar input.
#include "server/image/image.h"

#include <cstdlib>
#include <random>

#include "gtest/gtest.h"
#include "server/image/image_encode.h"
#include "zlib.h"

namespace convd {
namespace {

Image RandomImage(int width, int height, int channels, unsigned seed) {
  std::mt19937 rng(seed);
  Image image{width, height, channels, {}};
  image.pixels.resize(static_cast<size_t>(width) * height * channels);
  for (uint8_t& p : image.pixels) p = static_cast<uint8_t>(rng() % 256);
  return image;
}

// A smooth image, so JPEG's loss stays small.
Image GradientImage(int width, int height, int channels) {
  Image image{width, height, channels, {}};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        image.pixels.push_back(static_cast<uint8_t>(x * 2 + y * 2 + c * 30));  // <= 208
      }
    }
  }
  return image;
}

TEST(ImageTest, PngDecodesExactlyGreyAndRgbOddSizes) {
  for (int channels : {1, 3}) {
    const Image original = RandomImage(37, 23, channels, 5 + channels);
    const std::string png = EncodePng(original);
    ASSERT_FALSE(png.empty());
    auto decoded = DecodeImage(png);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->width, 37);
    EXPECT_EQ(decoded->height, 23);
    EXPECT_EQ(decoded->channels, channels);
    EXPECT_EQ(decoded->pixels, original.pixels);
  }
}

TEST(ImageTest, JpegDecodesCloseToTheOriginal) {
  for (int channels : {1, 3}) {
    const Image original = GradientImage(45, 31, channels);
    auto decoded = DecodeImage(EncodeJpeg(original, 95));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(decoded->pixels.size(), original.pixels.size());
    double total = 0;
    for (size_t i = 0; i < original.pixels.size(); ++i) {
      total += std::abs(decoded->pixels[i] - original.pixels[i]);
    }
    EXPECT_LT(total / original.pixels.size(), 3.0) << channels << " channels";
  }
}

// Rewrites a PNG's IHDR width and height (and its CRC).
std::string WithPngSize(std::string png, uint32_t width, uint32_t height) {
  auto put = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = static_cast<char>(v >> (24 - 8 * i));
  };
  put(16, width);  // 8 signature + 4 length + 4 "IHDR"
  put(20, height);
  const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(png.data() + 12), 17);
  put(29, crc);
  return png;
}

// Rewrites a baseline JPEG's SOF0 height and width.
std::string WithJpegSize(std::string jpeg, uint16_t width, uint16_t height) {
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (static_cast<uint8_t>(jpeg[i]) == 0xFF && static_cast<uint8_t>(jpeg[i + 1]) == 0xC0) {
      jpeg[i + 5] = static_cast<char>(height >> 8);
      jpeg[i + 6] = static_cast<char>(height & 0xFF);
      jpeg[i + 7] = static_cast<char>(width >> 8);
      jpeg[i + 8] = static_cast<char>(width & 0xFF);
      break;
    }
  }
  return jpeg;
}

TEST(ImageTest, BadDataIsRefusedWithTheReason) {
  const std::string png = EncodePng(RandomImage(20, 20, 3, 1));
  const std::string jpeg = EncodeJpeg(GradientImage(40, 40, 3));
  const struct {
    std::string name, data, message;
  } cases[] = {
      {"empty", "", "empty (0 bytes)"},
      {"text", "hello, world", "not a PNG or JPEG"},
      {"truncated png", png.substr(0, png.size() / 2), "PNG data is corrupt or truncated"},
      {"png header only", png.substr(0, 8), "PNG data is corrupt"},
      {"truncated jpeg", jpeg.substr(0, jpeg.size() / 2), "JPEG data is corrupt or truncated"},
      {"jpeg header only", jpeg.substr(0, 3), "JPEG data is corrupt"},
      {"png bomb", WithPngSize(png, 100000, 100000), "10000000000 pixels; the limit is"},
      {"jpeg bomb", WithJpegSize(jpeg, 65000, 65000), "4225000000 pixels; the limit is"},
  };
  for (const auto& c : cases) {
    auto decoded = DecodeImage(c.data);
    ASSERT_FALSE(decoded.ok()) << c.name;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(decoded.status().message().find(c.message), std::string::npos)
        << c.name << ": " << decoded.status();
  }
  // A corrupted body byte in a JPEG: refused or decoded, never a crash.
  std::string flipped = jpeg;
  flipped[flipped.size() / 2] ^= 0x5A;
  (void)DecodeImage(flipped);
}

TEST(ImageTest, ToPlanarResizesAndConvertsChannels) {
  const Image rgb = RandomImage(7, 5, 3, 9);
  // Same size, same channels: a pure layout change (HWC to CHW).
  const std::vector<uint8_t> planar = ToPlanar(rgb, 3, 5, 7);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 5; ++y) {
      for (int x = 0; x < 7; ++x) {
        ASSERT_EQ(planar[(c * 5 + y) * 7 + x], rgb.pixels[(y * 7 + x) * 3 + c]);
      }
    }
  }
  // RGB to grey is BT.601 luma.
  const std::vector<uint8_t> grey = ToPlanar(rgb, 1, 5, 7);
  const uint8_t* p = &rgb.pixels[0];
  EXPECT_EQ(grey[0], static_cast<uint8_t>(std::lround(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])));
  // Grey to RGB replicates; a constant image stays constant when resized.
  Image flat{9, 13, 1, std::vector<uint8_t>(9 * 13, 77)};
  for (uint8_t v : ToPlanar(flat, 3, 28, 28)) ASSERT_EQ(v, 77);
  // Downscaling 2x averages neighbours (bilinear at the shared centre).
  Image stripes{4, 1, 1, {0, 100, 0, 100}};
  EXPECT_EQ(ToPlanar(stripes, 1, 1, 2), (std::vector<uint8_t>{50, 50}));
}

}  // namespace
}  // namespace convd
