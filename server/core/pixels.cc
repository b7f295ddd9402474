#include "server/core/pixels.h"

namespace convd {

void NormalizePixels(const inference::ModelInput& config, const uint8_t* pixels, int64_t count,
                     float* out) {
  const inference::ImageNormalization& norm = config.normalization();
  const int64_t channels = config.dims(0);
  const int64_t plane = config.dims(1) * config.dims(2);
  for (int64_t i = 0; i < count; ++i) {
    const int c = static_cast<int>((i / plane) % channels);
    const float mean = norm.mean(norm.mean_size() == 1 ? 0 : c);
    const float std = norm.std(norm.std_size() == 1 ? 0 : c);
    out[i] = (pixels[i] * norm.scale() - mean) / std;
  }
}

}  // namespace convd
