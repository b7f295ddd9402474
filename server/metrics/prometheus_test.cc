// /metrics as a GPU server renders it, with a stand-in GPU backend (a table
// of functions, server/core/gpu_backend.h) whose instances hold known
// device and pinned bytes and whose device reports known memory,
// utilisation and power; and as a CPU server renders it. The real GPU
// backend's numbers are checked on a GPU by bench/gpu_check.sh.
#include "server/metrics/prometheus.h"

#include <future>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/testing/model_repository.h"
#include "gtest/gtest.h"
#include "kernels/testing/temp_dir.h"
#include "server/core/testing/lenet_service.h"
#include "server/metrics/triton_metrics.h"

namespace convd {
namespace {

class HoldingRunner : public InstanceRunner {
 public:
  absl::Status Run(const float*, int batch, Tensor& output, ModelStats*) override {
    output = Tensor(TensorShape{batch, 10, 1, 1});
    return absl::OkStatus();
  }
  absl::Status Reserve(int max_batch) override {
    rows_ = max_batch;
    return absl::OkStatus();
  }
  MemoryUse memory() const override {
    return MemoryUse{.pinned_bytes = 100 * rows_, .device_bytes = 5000 * rows_};
  }

 private:
  int rows_ = 0;
};

constexpr char kLenetConfig[] = R"pb(
  max_batch_size: 8
  input { name: "input" dims: [1, 28, 28] }
  output { name: "prob" dims: [10] }
)pb";

std::string Repository(const std::string& groups) {
  const std::string root = testing::MakeTempDir("metrics_repository");
  testing::AddModel(root, "lenet", "lenet5", kLenetConfig + groups);
  return root;
}

std::string Render(const std::string& groups, const GpuBackend* gpu) {
  ThreadPool pool(1);
  RepositoryOptions options;
  options.root = Repository(groups);
  options.thread_pool = &pool;
  options.load.thread_pool = &pool;
  options.gpu = gpu;
  ModelRepository repository(options);
  EXPECT_EQ(repository.LoadAll(), 0);
  InferenceService service(&repository, {});
  return RenderPrometheusMetrics(service, gpu);
}

GpuBackend StandInGpu(bool with_nvml, absl::Status health = absl::OkStatus()) {
  GpuBackend gpu;
  gpu.description = [] { return std::string("Stand-in \"H0\" (sm_00)"); };
  gpu.create_runner =
      [](std::shared_ptr<const ExecutionPlan>,
         const inference::ModelConfig&) -> absl::StatusOr<std::unique_ptr<InstanceRunner>> {
    return std::make_unique<HoldingRunner>();
  };
  gpu.memory = [] { return absl::StatusOr<GpuMemory>(GpuMemory{3 << 20, 80 << 20}); };
  gpu.activity = [with_nvml]() -> absl::StatusOr<GpuActivity> {
    if (!with_nvml) return absl::UnavailableError("cannot open libnvidia-ml.so.1");
    return GpuActivity{.utilization = 0.25, .power_watts = 123.5, .power_limit_watts = 700};
  };
  gpu.health = [health] { return health; };
  return gpu;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(PrometheusTest, AGpuServerSplitsModelMemoryAndReportsTheDevice) {
  const GpuBackend gpu = StandInGpu(/*with_nvml=*/true);
  const std::string text = Render(
      "instance_group { count: 2 kind: KIND_GPU }\n"
      "instance_group { count: 1 kind: KIND_CPU }",
      &gpu);
  const std::string model = R"(model="lenet",version="1",)";
  EXPECT_TRUE(Has(text, "convd_model_memory_bytes{" + model + R"(device="cpu_pinned"} 1600)"))
      << text;
  EXPECT_TRUE(Has(text, "convd_model_memory_bytes{" + model + R"(device="gpu"} 80000)")) << text;
  EXPECT_NE(text.find("convd_model_memory_bytes{" + model + R"(device="cpu"} )"),
            std::string::npos);
  const std::string device = R"x({gpu="Stand-in \"H0\" (sm_00)"})x";
  EXPECT_TRUE(Has(text, "convd_gpu_memory_used_bytes" + device + " 3145728")) << text;
  EXPECT_TRUE(Has(text, "convd_gpu_memory_total_bytes" + device + " 83886080")) << text;
  EXPECT_TRUE(Has(text, "convd_gpu_utilization" + device + " 0.25")) << text;
  EXPECT_TRUE(Has(text, "convd_gpu_power_usage_watts" + device + " 123.5")) << text;
  EXPECT_TRUE(Has(text, "convd_gpu_power_limit_watts" + device + " 700")) << text;
  EXPECT_TRUE(Has(text, "# TYPE convd_gpu_utilization gauge")) << text;
  EXPECT_TRUE(Has(text, "convd_gpu_healthy" + device + " 1")) << text;
  EXPECT_TRUE(Has(text, "convd_server_ready 1")) << text;
}

TEST(PrometheusTest, AFailedGpuIsReportedUnhealthyAndItsModelsUnready) {
  const GpuBackend gpu =
      StandInGpu(/*with_nvml=*/true, absl::UnavailableError("its CUDA context is lost"));
  const std::string text = Render("instance_group { count: 1 kind: KIND_GPU }", &gpu);
  EXPECT_TRUE(Has(text, R"x(convd_gpu_healthy{gpu="Stand-in \"H0\" (sm_00)"} 0)x")) << text;
  EXPECT_TRUE(Has(text, "convd_server_ready 0")) << text;
}

TEST(PrometheusTest, WithoutNvmlOrAGpuThoseSeriesAreAbsent) {
  const GpuBackend gpu = StandInGpu(/*with_nvml=*/false);
  const std::string without_nvml = Render("", &gpu);
  EXPECT_NE(without_nvml.find("convd_gpu_memory_used_bytes"), std::string::npos);
  EXPECT_EQ(without_nvml.find("convd_gpu_utilization"), std::string::npos) << without_nvml;
  EXPECT_EQ(without_nvml.find("convd_gpu_power"), std::string::npos) << without_nvml;

  const std::string on_cpu = Render("", nullptr);
  EXPECT_EQ(on_cpu.find("convd_gpu_"), std::string::npos) << on_cpu;
  EXPECT_EQ(on_cpu.find(R"(device="gpu")"), std::string::npos) << on_cpu;
  EXPECT_EQ(on_cpu.find(R"(device="cpu_pinned")"), std::string::npos) << on_cpu;
  EXPECT_NE(on_cpu.find(R"(convd_model_memory_bytes{model="lenet",version="1",device="cpu"} )"),
            std::string::npos)
      << on_cpu;
}

// "lenet" with the response cache on, served by a service with a cache.
class CachedLenetTest : public ::testing::Test {
 protected:
  CachedLenetTest() : repository_(Options()) {}
  void SetUp() override { ASSERT_EQ(repository_.LoadAll(), 0); }
  RepositoryOptions Options() {
    RepositoryOptions options;
    options.root = Repository("response_cache { enable: true }");
    options.thread_pool = &pool_;
    options.load.thread_pool = &pool_;
    return options;
  }
  absl::Status Infer(inference::ModelInferRequest request) {
    inference::ModelInferResponse response;
    std::promise<absl::Status> done;
    service_.Infer(request, &response, [&](absl::Status status) { done.set_value(status); });
    return done.get_future().get();
  }

  ThreadPool pool_{1};
  ModelRepository repository_;
  InferenceService service_{&repository_,
                            {.response_cache = std::make_shared<ResponseCache>(1 << 20)}};
};

TEST_F(CachedLenetTest, CountsResponseCacheHitsAndMisses) {
  const inference::ModelInferRequest request = testing::LenetRequest(1);
  for (int i = 0; i < 3; ++i) {  // a miss, then two hits
    ASSERT_TRUE(Infer(request).ok());
  }
  const std::string text = RenderPrometheusMetrics(service_, nullptr);
  EXPECT_TRUE(Has(text, R"(convd_cache_hit_total{model="lenet",version="1"} 2)")) << text;
  EXPECT_TRUE(Has(text, R"(convd_cache_miss_total{model="lenet",version="1"} 1)")) << text;
  EXPECT_TRUE(Has(text, R"(convd_inference_exec_count_total{model="lenet",version="1"} 1)"))
      << text;
  EXPECT_TRUE(Has(text, "convd_cache_entries 1")) << text;
  EXPECT_TRUE(Has(text, absl::StrCat("convd_cache_bytes ", service_.response_cache()->bytes())))
      << text;
  EXPECT_TRUE(Has(text, "convd_cache_capacity_bytes 1048576")) << text;
  // Without a cache there are no cache gauges.
  InferenceService uncached(&repository_, {});
  EXPECT_EQ(RenderPrometheusMetrics(uncached, nullptr).find("convd_cache_entries"),
            std::string::npos);
}

// The value of the sample line that starts with `series` (name and
// labels), or -1.
double SampleValue(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST_F(CachedLenetTest, TritonNamesReadTheStatisticsExtensionsCounters) {
  const inference::ModelInferRequest three = testing::LenetRequest(3);
  ASSERT_TRUE(Infer(three).ok());  // a miss, run
  ASSERT_TRUE(Infer(three).ok());  // a hit
  ASSERT_TRUE(Infer(testing::LenetRequest(2)).ok());
  // max_batch_size is 8.
  ASSERT_EQ(Infer(testing::LenetRequest(9)).code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(RenderPrometheusMetrics(service_, nullptr).find("nv_"), std::string::npos);
  const std::string text = RenderPrometheusMetrics(service_, nullptr, /*triton_names=*/true);
  const std::string lenet = R"({model="lenet",version="1"})";
  EXPECT_EQ(SampleValue(text, "nv_inference_request_success" + lenet), 3) << text;
  EXPECT_EQ(SampleValue(text, "nv_inference_exec_count" + lenet), 2) << text;
  EXPECT_EQ(SampleValue(text, "nv_inference_count" + lenet), 8) << text;
  EXPECT_EQ(SampleValue(text, "nv_cache_num_hits_per_model" + lenet), 1) << text;
  EXPECT_EQ(SampleValue(text, "nv_cache_num_misses_per_model" + lenet), 2) << text;
  EXPECT_EQ(SampleValue(text, "nv_inference_pending_request_count" + lenet), 0) << text;
  EXPECT_EQ(SampleValue(
                text, R"(nv_inference_request_failure{model="lenet",version="1",reason="OTHER"})"),
            1)
      << text;
  // The durations are the statistics extension's, in microseconds.
  inference::ModelStatistics statistics;
  (*repository_.Get("lenet", ""))->statistics().Fill(statistics);
  const inference::InferStatistics& stats = statistics.inference_stats();
  for (const auto& [name, ns] : std::vector<std::pair<std::string, uint64_t>>{
           {"nv_inference_request_duration_us", stats.success().ns()},
           {"nv_inference_queue_duration_us", stats.queue().ns()},
           {"nv_inference_compute_input_duration_us", stats.compute_input().ns()},
           {"nv_inference_compute_infer_duration_us", stats.compute_infer().ns()},
           {"nv_inference_compute_output_duration_us", stats.compute_output().ns()},
           {"nv_cache_hit_duration_per_model", stats.cache_hit().ns()}}) {
    EXPECT_GT(ns, 0u) << name;
    EXPECT_DOUBLE_EQ(SampleValue(text, name + lenet), static_cast<double>(ns) / 1000) << name;
  }
  // Counters and a gauge, as Triton declares them.
  EXPECT_TRUE(Has(text, "# TYPE nv_inference_request_success counter")) << text;
  EXPECT_TRUE(Has(text, "# TYPE nv_inference_pending_request_count gauge")) << text;
}

TEST(PrometheusTest, TritonsFailureReasons) {
  EXPECT_STREQ(TritonFailureReason(absl::StatusCode::kUnavailable), "REJECTED");
  EXPECT_STREQ(TritonFailureReason(absl::StatusCode::kDeadlineExceeded), "REJECTED");
  EXPECT_STREQ(TritonFailureReason(absl::StatusCode::kCancelled), "CANCELED");
  EXPECT_STREQ(TritonFailureReason(absl::StatusCode::kInternal), "BACKEND");
  EXPECT_STREQ(TritonFailureReason(absl::StatusCode::kInvalidArgument), "OTHER");
}

}  // namespace
}  // namespace convd
