#include "server/core/testing/lenet_service.h"

#include <vector>

#include "engine/testing/model_repository.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/temp_dir.h"

namespace convd::testing {

RepositoryOptions LenetRepository(ThreadPool& pool, const std::string& more_config) {
  const std::string root = MakeTempDir("core_repository");
  AddModel(root, "lenet", "lenet5",
           std::string(R"pb(
             max_batch_size: 8
             input {
               name: "input"
               dims: [ 1, 28, 28 ]
             }
             output {
               name: "prob"
               dims: [ 10 ]
             }
             instance_group { count: 2 }
             dynamic_batching { max_queue_delay_microseconds: 2000 }
           )pb") +
               more_config);
  RepositoryOptions options;
  options.root = root;
  options.thread_pool = &pool;
  options.load.thread_pool = &pool;
  return options;
}

inference::ModelInferRequest LenetRequest(int rows, const std::string& model) {
  inference::ModelInferRequest request;
  request.set_model_name(model);
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  for (int64_t d : {int64_t{rows}, int64_t{1}, int64_t{28}, int64_t{28}}) input->add_shape(d);
  const std::vector<float> data = RandomVector(rows * 28 * 28);
  request.add_raw_input_contents(
      std::string(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float)));
  return request;
}

}  // namespace convd::testing
