// Fresh random input tensors for the clients (convctl infer --random,
// convload without --images): uniform [0, 1) FP32 or uniform UINT8, in the
// model's input shape with the batch dimension (-1) set to `batch`.
#ifndef CONVD_CLIENT_RANDOM_TENSOR_H_
#define CONVD_CLIENT_RANDOM_TENSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/npy.h"

namespace convd::client {

// UNIMPLEMENTED for datatypes other than FP32 and UINT8.
absl::StatusOr<NpyArray> RandomTensor(const std::string& datatype,
                                      const std::vector<int64_t>& model_shape, int batch);

}  // namespace convd::client

#endif  // CONVD_CLIENT_RANDOM_TENSOR_H_
