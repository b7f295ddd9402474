// A LeNet-5 model repository and requests to it, for the serving core's
// tests: model "lenet" (max_batch_size 8, two instances, a 2 ms batching
// delay), input "input" [1, 28, 28], output "prob" [10].
#ifndef CONVD_SERVER_CORE_TESTING_LENET_SERVICE_H_
#define CONVD_SERVER_CORE_TESTING_LENET_SERVICE_H_

#include <string>

#include "kernels/cpu/thread_pool.h"
#include "proto/inference.pb.h"
#include "server/repository/repository.h"

namespace convd::testing {

// A fresh repository holding "lenet", loading and running on `pool`;
// `more_config` is appended to its config.pbtxt.
RepositoryOptions LenetRepository(ThreadPool& pool, const std::string& more_config = "");

// `rows` random images in [0, 1) as FP32 raw_input_contents.
inference::ModelInferRequest LenetRequest(int rows, const std::string& model = "lenet");

}  // namespace convd::testing

#endif  // CONVD_SERVER_CORE_TESTING_LENET_SERVICE_H_
