// libFuzzer target for the ONNX importer: any bytes either import or fail
// with a Status; nothing may crash, hang or read out of bounds. Built with
// clang outside Bazel (make fuzz-onnx) and seeded with the bundled model.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/onnx_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // No model directory: external data is refused rather than read.
  auto graph = convd::ImportOnnx(bytes, {});
  (void)graph;
  return 0;
}
