#include "engine/weights.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace convd {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// splitmix64: a tiny generator whose output is fixed by its seed alone.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1].
  double Uniform() { return (static_cast<double>(Next() >> 11) + 1.0) * 0x1.0p-53; }
  // Standard normal by Box-Muller; each pair of uniforms yields two values.
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log(Uniform()));
    const double angle = 2.0 * M_PI * Uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  uint64_t state_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

uint64_t Fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ULL;
  return hash;
}

}  // namespace

absl::Status AttachWeights(const TensorMap& tensors, Graph& graph) {
  for (Layer& layer : graph.layers) {
    for (const ParameterSpec& spec : ParameterSpecs(graph, layer)) {
      const std::string name = absl::StrCat(layer.name, ".", spec.suffix);
      auto it = tensors.find(name);
      if (it == tensors.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "layer '", layer.name, "': weights file has no tensor '", name,
            "' (expected shape ", ShapeString(spec.shape), ")"));
      }
      if (it->second.dtype != "F32") {
        return absl::InvalidArgumentError(absl::StrCat(
            "layer '", layer.name, "': tensor '", name, "' has dtype ",
            it->second.dtype, "; convd reads F32"));
      }
      if (it->second.shape != spec.shape) {
        return absl::InvalidArgumentError(absl::StrCat(
            "layer '", layer.name, "': tensor '", name, "' has shape ",
            ShapeString(it->second.shape), "; expected ", ShapeString(spec.shape)));
      }
      layer.*spec.member = it->second.values;
    }
  }
  return absl::OkStatus();
}

void InitializeHeWeights(uint64_t seed, Graph& graph) {
  for (Layer& layer : graph.layers) {
    for (const ParameterSpec& spec : ParameterSpecs(graph, layer)) {
      int64_t count = 1;
      for (int64_t dim : spec.shape) count *= dim;
      std::vector<float>& values = layer.*spec.member;
      if (spec.suffix == "weight" && layer.kind != LayerKind::kBatchNorm) {
        // fan_in: everything but the output dimension.
        const double fan_in = static_cast<double>(count / spec.shape[0]);
        const double stddev = std::sqrt(2.0 / fan_in);
        SplitMix64 rng(seed ^ Fnv1a(layer.name));
        values.resize(count);
        for (float& v : values) v = static_cast<float>(rng.Normal() * stddev);
      } else {
        const bool ones = spec.suffix == "running_var" ||
                          (spec.suffix == "weight" && layer.kind == LayerKind::kBatchNorm);
        values.assign(count, ones ? 1.0f : 0.0f);
      }
    }
  }
}

}  // namespace convd
