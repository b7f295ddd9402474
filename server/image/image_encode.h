// PNG and JPEG encoders for tests and tools (the server only decodes):
// make real image files from pixels.
#ifndef CONVD_SERVER_IMAGE_IMAGE_ENCODE_H_
#define CONVD_SERVER_IMAGE_IMAGE_ENCODE_H_

#include <string>

#include "server/image/image.h"

namespace convd {

std::string EncodePng(const Image& image);
std::string EncodeJpeg(const Image& image, int quality = 95);

}  // namespace convd

#endif  // CONVD_SERVER_IMAGE_IMAGE_ENCODE_H_
