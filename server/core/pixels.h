// UINT8 pixels to the network's floats, one rule for every way pixels
// arrive (UINT8 tensors, decoded images, model_warmup samples).
#ifndef CONVD_SERVER_CORE_PIXELS_H_
#define CONVD_SERVER_CORE_PIXELS_H_

#include <cstdint>

#include "proto/model_config.pb.h"

namespace convd {

// UINT8 pixels (planar, the model's input layout) to the network's floats,
// as the input config's normalization says: (pixel * scale - mean) / std,
// mean and std per channel or one for all. `config` is normalized
// (engine/model_config.h): dims [C, H, W], 1 or C means and stds.
void NormalizePixels(const inference::ModelInput& config, const uint8_t* pixels, int64_t count,
                     float* out);

}  // namespace convd

#endif  // CONVD_SERVER_CORE_PIXELS_H_
