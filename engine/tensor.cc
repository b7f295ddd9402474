#include "engine/tensor.h"

#include "absl/strings/str_format.h"

namespace convd {

std::string TensorShape::ToString() const {
  return absl::StrFormat("[%d, %d, %d, %d]", n, c, h, w);
}

}  // namespace convd
