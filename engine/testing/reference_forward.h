// A forward pass through an unsimplified graph with the float64 reference
// ops (kernels/reference): the oracle for whole-network tests. Each layer's
// output is rounded to float32 before the next layer reads it, as the real
// executor does.
#ifndef CONVD_ENGINE_TESTING_REFERENCE_FORWARD_H_
#define CONVD_ENGINE_TESTING_REFERENCE_FORWARD_H_

#include <vector>

#include "engine/graph.h"

namespace convd::testing {

std::vector<double> ReferenceForward(const Graph& graph, const float* input, int batch);

}  // namespace convd::testing

#endif  // CONVD_ENGINE_TESTING_REFERENCE_FORWARD_H_
