// Writes seed inputs for the libFuzzer targets (make fuzz-image, fuzz-rest):
//   make_fuzz_seeds image DIR   small PNG and JPEG files, grey and RGB
//   make_fuzz_seeds rest DIR    REST inference bodies, JSON and binary
// Each rest seed starts with the two selector bytes the target reads
// (0xFFFF: no Inference-Header-Content-Length, else its value).
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "server/image/image_encode.h"

namespace {

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string Selector(int value) {
  return std::string{static_cast<char>(value & 0xFF), static_cast<char>((value >> 8) & 0xFF)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_fuzz_seeds image|rest DIR\n");
    return 2;
  }
  const std::string kind = argv[1], dir = argv[2];
  if (kind == "image") {
    for (int channels : {1, 3}) {
      convd::Image image{9, 7, channels, {}};
      for (int i = 0; i < 9 * 7 * channels; ++i) image.pixels.push_back(static_cast<uint8_t>(i * 7));
      Write(dir + "/seed" + std::to_string(channels) + ".png", convd::EncodePng(image));
      Write(dir + "/seed" + std::to_string(channels) + ".jpg", convd::EncodeJpeg(image, 80));
    }
    return 0;
  }
  if (kind == "rest") {
    Write(dir + "/json", Selector(0xFFFF) +
                             R"({"id":"a","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32",)"
                             R"("data":[[1,2],[3.5,-4e-3]]}],"outputs":[{"name":"y","parameters":)"
                             R"({"classification":2,"binary_data":true}}],"parameters":)"
                             R"({"layer_stats":true,"binary_data_output":false}})");
    Write(dir + "/bytes", Selector(0xFFFF) +
                              R"({"inputs":[{"name":"s","shape":[2],"datatype":"BYTES",)"
                              R"("data":["ab","c"]},{"name":"u","shape":[1],"datatype":"UINT8",)"
                              R"("data":[7]}]})");
    const std::string header =
        R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
    Write(dir + "/binary", Selector(static_cast<int>(header.size())) + header +
                               std::string("\0\0\x80?\0\0\0@", 8));
    return 0;
  }
  std::fprintf(stderr, "make_fuzz_seeds: unknown kind '%s'\n", kind.c_str());
  return 2;
}
