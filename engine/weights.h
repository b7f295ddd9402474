// Gives every layer its parameters, either from a safetensors map (names
// "<layer>.<suffix>" as in engine/graph.h ParameterSpecs) or, when a model
// ships no weights, deterministic He-initialised values so any architecture
// can be run and benchmarked.
#ifndef CONVD_ENGINE_WEIGHTS_H_
#define CONVD_ENGINE_WEIGHTS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "engine/graph.h"
#include "engine/safetensors.h"

namespace convd {

// Copies each parameter from `tensors`; a missing tensor, a wrong dtype or a
// wrong shape is an error naming the layer, the tensor and both shapes.
absl::Status AttachWeights(const TensorMap& tensors, Graph& graph);

// Weights ~ N(0, 2 / fan_in) (He et al. 2015), biases and batch-norm shifts
// 0, batch-norm scales and variances 1, means 0. The values depend only on
// `seed` and the layer names, never on the platform.
void InitializeHeWeights(uint64_t seed, Graph& graph);

}  // namespace convd

#endif  // CONVD_ENGINE_WEIGHTS_H_
