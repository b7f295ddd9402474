#include "client/random_tensor.h"

#include <random>

#include "absl/strings/str_cat.h"

namespace convd::client {

absl::StatusOr<NpyArray> RandomTensor(const std::string& datatype,
                                      const std::vector<int64_t>& model_shape, int batch) {
  NpyArray array;
  array.datatype = datatype;
  int64_t elements = 1;
  for (int64_t d : model_shape) {
    array.shape.push_back(d < 0 ? batch : d);
    elements *= array.shape.back();
  }
  std::mt19937 rng(std::random_device{}());
  if (datatype == "FP32") {
    std::vector<float> values(elements);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    for (float& v : values) v = uniform(rng);
    array.data.assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  } else if (datatype == "UINT8") {
    std::uniform_int_distribution<int> uniform(0, 255);
    array.data.resize(elements);
    for (char& c : array.data) c = static_cast<char>(uniform(rng));
  } else {
    return absl::UnimplementedError(
        absl::StrCat("random inputs are FP32 or UINT8; the model takes ", datatype));
  }
  return array;
}

}  // namespace convd::client
