// model_warmup (proto/model_config.proto ModelWarmup, as Triton's): samples
// run on each model instance at load, before the model is ready and outside
// its statistics, so that the first requests of each warmed batch size find
// its memory planned and, on the GPU, its CUDA graph captured.
#ifndef CONVD_SERVER_CORE_WARMUP_H_
#define CONVD_SERVER_CORE_WARMUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/model_config.pb.h"
#include "server/batching/scheduler.h"

namespace convd {

struct WarmupSample {
  std::string name;
  int batch = 1;
  int count = 1;             // runs per instance
  std::vector<float> input;  // batch rows of the model input, as the network sees them
};

// The samples of a normalized config (engine/model_config.h checked their
// shapes and types), their data made: zeros, seeded random values, or
// <model_dir>/warmup/<input_data_file>, which must hold exactly one
// sample's values. INVALID_ARGUMENT naming the sample and the file when it
// cannot be read or has the wrong size.
absl::StatusOr<std::vector<WarmupSample>> PrepareWarmup(const inference::ModelConfig& config,
                                                        const std::string& model_dir,
                                                        int64_t input_row_elements);

// Runs each sample `count` times on `runner`; the first failure, naming
// the sample.
absl::Status RunWarmup(const std::vector<WarmupSample>& samples, InstanceRunner& runner);

}  // namespace convd

#endif  // CONVD_SERVER_CORE_WARMUP_H_
