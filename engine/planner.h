// The planner turns a simplified graph into an ExecutionPlan: for each
// convolution it chooses the algorithm once (heuristic, autotune or forced),
// records why, and prepares the weights in that algorithm's layout. The
// executor never re-decides.
//
//   ASSIGN_OR_RETURN(auto plan, Plan(std::move(graph), options));
//   std::cout << plan->DebugString();   // one line per layer
#ifndef CONVD_ENGINE_PLANNER_H_
#define CONVD_ENGINE_PLANNER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph.h"
#include "kernels/conv_algorithm.h"
#include "kernels/cpu/ops.h"

namespace convd {

class ThreadPool;

// Algorithms a policy may name that only the GPU backend has: on the CPU a
// layer forced to one of them gets the heuristic, and the plan says why.
// The CPU's own are cpu::AllConvAlgorithms(); the GPU's, engine/cuda's
// GpuConv (which has every CPU name too).
inline constexpr const char* kGpuOnlyConvAlgorithms[] = {"implicit_gemm"};
bool IsGpuOnlyConvAlgorithm(std::string_view name);
// Every name a policy may use, for messages: "direct, im2col, ...".
std::string ConvAlgorithmNames();

struct AlgorithmPolicy {
  enum class Mode {
    kAuto,      // the heuristic: cheap and deterministic (default)
    kAutotune,  // time every candidate on the real shapes, keep the fastest
    kForced,    // `algorithm` wherever it can implement the layer, else auto
  };
  Mode mode = Mode::kAuto;
  std::string algorithm;                             // kForced
  std::map<std::string, std::string> per_layer;      // layer name -> algorithm
  // kAutotune stops timing after this long (per plan, and per GPU
  // executor); the layers left keep the heuristic's choice.
  int64_t autotune_budget_ms = kDefaultAutotuneBudgetMs;
  static constexpr int64_t kDefaultAutotuneBudgetMs = 30000;
  // How the CPU stores fully connected layers' weights: as floats, or as
  // halves (kernels/cpu/half.h), half the bytes a small batch reads, each
  // weight rounded to 11 significant bits. The GPU backend ignores it.
  enum class CpuWeights { kFp32, kFp16 };
  CpuWeights cpu_weights = CpuWeights::kFp32;
};

// How plans say that autotuning's budget ran out ("autotune budget of
// 30000 ms spent"), the CPU's and the GPU's alike; AutotuneCutShort, what
// follows a layer's timings when it ran out among that layer's candidates.
std::string AutotuneBudgetSpent(int64_t budget_ms);
std::string AutotuneCutShort(int64_t budget_ms);

// The algorithm `policy` forces on layer `layer_name`: its per-layer entry,
// else the forced mode's algorithm; nullopt where the policy forces none.
// Each backend then runs it where it can (the CPU's planner, engine/cuda).
std::optional<std::string> ForcedAlgorithm(const AlgorithmPolicy& policy,
                                           const std::string& layer_name);
// INVALID_ARGUMENT for a layer forced to a name no backend has.
absl::Status UnknownConvAlgorithm(const std::string& layer_name, const std::string& name);

struct PlanOptions {
  AlgorithmPolicy policy;
  // Autotune times candidates at this batch size (the serving batch).
  int autotune_batch = 1;
  // Timed runs per candidate (after one warm-up); the minimum counts.
  int autotune_repeats = 3;
  // Threads the executor will use (sizes workspaces; runs autotuning).
  ThreadPool* thread_pool = nullptr;
  // false: under kAutotune the CPU's algorithms come from the heuristic (no
  // CPU instance will run the plan); the plan keeps the policy for the GPU.
  bool autotune_cpu = true;
  // false: no GPU instance will run the plan, so the graph's floats of a
  // layer the CPU stores in a form of its own (FP16 fully connected
  // weights) are freed.
  bool gpu_runs_plan = true;
};

struct PlannedLayer {
  const ConvAlgorithm* algorithm = nullptr;  // convolutions only
  std::string why;                           // the reason for the choice
  // The algorithm's weight layout; for a batch norm left unfolded, its
  // scale [C] then shift [C] (engine/graph_passes.h BatchNormAsScaleShift);
  // for a fully connected layer with weight_halves, its weights as halves,
  // two to a float.
  PackedWeights packed;
  bool weight_halves = false;
};

struct ExecutionPlan {
  Graph graph;
  std::vector<PlannedLayer> layers;  // parallel to graph.layers
  int threads = 1;  // of the pool the plan was made (and autotuned) with
  // The policy that chose the CPU algorithms; the GPU backend follows it
  // for its own (engine/cuda).
  AlgorithmPolicy policy;

  // Workspace layer `index` needs at `batch` when run on `threads` threads
  // (each thread has its own slice): its convolution algorithm's, or a
  // fully connected layer's; 0 for the other kinds.
  int64_t LayerWorkspaceBytes(size_t index, int batch, int threads) const;
  // The largest of them.
  int64_t WorkspaceBytes(int batch, int threads) const;
  // A fully connected layer's weights as the CPU reads them: the graph's
  // floats, or the halves `packed` holds.
  cpu::FullyConnectedWeights FullyConnectedWeightsOf(size_t index) const;
  // Host bytes of the weights the plan holds: the graph's parameters plus
  // each algorithm's packed layout of them.
  int64_t HostWeightBytes() const;
  // One line per layer: name, kind, output shape, algorithm, why.
  std::string DebugString() const;
};

// Candidate algorithms in preference order for the CPU backend.
const std::vector<const ConvAlgorithm*>& CpuConvCandidates();

absl::StatusOr<std::unique_ptr<ExecutionPlan>> Plan(Graph graph,
                                                    const PlanOptions& options);

// Parses "auto", "autotune" or an algorithm name into a policy.
absl::StatusOr<AlgorithmPolicy> PolicyFromName(const std::string& name);

}  // namespace convd

#endif  // CONVD_ENGINE_PLANNER_H_
