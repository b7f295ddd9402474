// The response cache in the serving core: a repeated request is answered
// from it, exactly as it ran, and what must run does.
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/inference_service.h"
#include "server/core/testing/lenet_service.h"

namespace convd {
namespace {

class InferenceServiceCacheTest : public ::testing::Test {
 protected:
  void Load(const std::string& more_config) {
    repository_ = std::make_unique<ModelRepository>(testing::LenetRepository(pool_, more_config));
    ASSERT_EQ(repository_->LoadAll(), 0);
    cache_ = std::make_shared<ResponseCache>(1 << 20);
    service_ = std::make_unique<InferenceService>(
        repository_.get(), InferenceService::Options{.response_cache = cache_});
  }

  std::pair<absl::Status, inference::ModelInferResponse> Infer(
      inference::ModelInferRequest request) {
    inference::ModelInferResponse response;
    std::promise<absl::Status> done;
    service_->Infer(request, &response, [&](absl::Status status) { done.set_value(status); });
    const absl::Status status = done.get_future().get();
    return {status, response};
  }

  inference::InferStatistics Statistics(uint64_t* executions = nullptr) {
    inference::ModelStatisticsRequest request;
    request.set_name("lenet");
    auto stats = service_->ModelStatistics(request);
    EXPECT_TRUE(stats.ok()) << stats.status();
    if (executions != nullptr) *executions = stats->model_stats(0).execution_count();
    return stats->model_stats(0).inference_stats();
  }

  ThreadPool pool_{2};
  std::unique_ptr<ModelRepository> repository_;
  std::shared_ptr<ResponseCache> cache_;
  std::unique_ptr<InferenceService> service_;
};

TEST_F(InferenceServiceCacheTest, ARepeatedRequestIsAnsweredFromTheCacheAsItRan) {
  Load("response_cache { enable: true }");
  inference::ModelInferRequest request = testing::LenetRequest(3);
  request.set_id("first");
  const inference::ModelInferRequest again = [&] {
    inference::ModelInferRequest copy = request;
    copy.set_id("second");
    return copy;
  }();
  const auto [status, ran] = Infer(request);
  ASSERT_TRUE(status.ok()) << status;
  uint64_t executions_before = 0;
  Statistics(&executions_before);
  const auto [hit_status, hit] = Infer(again);
  ASSERT_TRUE(hit_status.ok()) << hit_status;
  EXPECT_EQ(hit.id(), "second");
  EXPECT_EQ(hit.raw_output_contents(0), ran.raw_output_contents(0));
  EXPECT_EQ(hit.outputs(0).DebugString(), ran.outputs(0).DebugString());
  uint64_t executions_after = 0;
  const inference::InferStatistics stats = Statistics(&executions_after);
  EXPECT_EQ(executions_after, executions_before) << "a hit runs no batch";
  EXPECT_EQ(stats.cache_hit().count(), 1u);
  EXPECT_EQ(stats.cache_miss().count(), 1u);
  EXPECT_EQ(stats.success().count(), 2u);

  // What must run, runs: layer stats describe a run; another input misses.
  inference::ModelInferRequest with_stats = again;
  (*with_stats.mutable_parameters())["layer_stats"].set_bool_param(true);
  const auto [stats_status, with_table] = Infer(with_stats);
  ASSERT_TRUE(stats_status.ok()) << stats_status;
  EXPECT_TRUE(with_table.parameters().contains("layer_stats"));
  EXPECT_TRUE(Infer(testing::LenetRequest(3)).first.ok());
  EXPECT_EQ(Statistics().cache_hit().count(), 1u);
  EXPECT_EQ(Statistics().cache_miss().count(), 2u);
  EXPECT_EQ(cache_->entries(), 2u);

  // A reload is a new model: its first answer runs.
  ASSERT_TRUE(repository_->Load("lenet").ok());
  EXPECT_TRUE(Infer(again).first.ok());
  EXPECT_EQ(Statistics().cache_hit().count(), 0u);  // the new load's statistics
  EXPECT_EQ(Statistics().cache_miss().count(), 1u);
}

TEST_F(InferenceServiceCacheTest, AModelThatDoesNotEnableTheCacheAlwaysRuns) {
  Load("");
  const inference::ModelInferRequest request = testing::LenetRequest(2);
  ASSERT_TRUE(Infer(request).first.ok());
  ASSERT_TRUE(Infer(request).first.ok());
  uint64_t executions = 0;
  const inference::InferStatistics stats = Statistics(&executions);
  EXPECT_EQ(stats.cache_hit().count(), 0u);
  EXPECT_EQ(stats.cache_miss().count(), 0u);
  EXPECT_EQ(cache_->entries(), 0u);
}

// The server drops a load's cache entries when the repository reports it
// destroyed: only once no request holds it, so none can insert after.
TEST(RepositoryTest, ReportsALoadDestroyedOnceItsLastReferenceIsGone) {
  ThreadPool pool(2);
  RepositoryOptions options = testing::LenetRepository(pool);
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<uint64_t> destroyed;
  options.on_destroyed = [&](uint64_t load_id) {
    std::lock_guard<std::mutex> lock(mutex);
    destroyed.push_back(load_id);
    changed.notify_all();
  };
  ModelRepository repository(options);
  ASSERT_EQ(repository.LoadAll(), 0);
  absl::StatusOr<std::shared_ptr<ServedModel>> held = repository.Get("lenet", "");
  ASSERT_TRUE(held.ok()) << held.status();
  const uint64_t first_load = (*held)->load_id();
  ASSERT_TRUE(repository.Load("lenet").ok());  // a reload replaces it
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_TRUE(destroyed.empty()) << "reported while a request still holds it";
  }
  held->reset();
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return !destroyed.empty(); }));
  EXPECT_EQ(destroyed, std::vector<uint64_t>{first_load});
}

}  // namespace
}  // namespace convd
