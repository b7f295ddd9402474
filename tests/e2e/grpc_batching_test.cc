// Dynamic batching, backpressure and model lifetime over real gRPC: many
// concurrent clients, full queues, queue timeouts, cancelled clients and
// unloading while requests are in flight.
#include <atomic>
#include <functional>
#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/executor.h"
#include "engine/model_loader.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

using std::chrono::milliseconds;

std::string LenetConfig(const std::string& batching, int instances = 1) {
  return absl::StrCat(R"pb(
    max_batch_size: 16
    input { name: "input" dims: [1, 28, 28] }
    output { name: "prob" dims: [10] }
    instance_group { count: )pb", instances, " }\n", batching);
}

class GrpcBatchingTest : public SharedServerTest<GrpcBatchingTest> {
 public:
  static void AddModels(const std::string& repository) {
    AddModel(repository, "lenet", "lenet5",
             LenetConfig("dynamic_batching { max_queue_delay_microseconds: 3000 }", 2));
    // Waits 0.8 s to fill a batch (strictly: even when requests come
    // alone); holds at most 2 waiting requests.
    AddModel(repository, "queued", "lenet5", LenetConfig(R"pb(
               dynamic_batching {
                 max_queue_delay_microseconds: 800000
                 strict_queue_delay: true
                 default_queue_policy { max_queue_size: 2 }
               })pb"));
    // Would wait 5 s to fill a batch, but requests time out after 0.1 s.
    AddModel(repository, "timeout", "lenet5", LenetConfig(R"pb(
               dynamic_batching {
                 max_queue_delay_microseconds: 5000000
                 strict_queue_delay: true
                 default_queue_policy { default_timeout_microseconds: 100000 }
               })pb"));
    // Waits up to 0.15 s for company, unless requests come alone.
    AddModel(repository, "adaptive", "lenet5",
             LenetConfig("dynamic_batching { max_queue_delay_microseconds: 150000 }"));
    AddModel(repository, "unloadable", "lenet5",
             LenetConfig("dynamic_batching { max_queue_delay_microseconds: 300000 }"));
    // Two priority levels, each with its own queue limit, waiting 0.8 s
    // for company.
    AddModel(repository, "prioritized", "lenet5", LenetConfig(R"pb(
               dynamic_batching {
                 max_queue_delay_microseconds: 800000
                 strict_queue_delay: true
                 priority_levels: 2
                 default_priority_level: 2
                 default_queue_policy { max_queue_size: 2 }
                 priority_queue_policy {
                   key: 1
                   value { max_queue_size: 1 }
                 }
               })pb"));
    // Times requests out after 0.05 s, but delays them rather than
    // failing them; they run when the 0.3 s batching delay ends.
    AddModel(repository, "delayed", "lenet5", LenetConfig(R"pb(
               dynamic_batching {
                 max_queue_delay_microseconds: 300000
                 strict_queue_delay: true
                 default_queue_policy { default_timeout_microseconds: 50000 timeout_action: DELAY }
               })pb"));
  }
  static void Configure(ServerOptions& options) { options.model_control = ModelControl::kExplicit; }

 protected:
  static inference::ModelInferRequest OneImage(const std::string& model,
                                               std::vector<float>* data = nullptr) {
    std::vector<float> input = testing::RandomVector(28 * 28);
    if (data != nullptr) *data = input;
    return FloatRequest(model, {1, 1, 28, 28}, input);
  }

  // Sends on its own thread; the future holds the status and the response.
  std::future<std::pair<grpc::Status, inference::ModelInferResponse>> InferAsync(
      inference::ModelInferRequest request, milliseconds deadline = milliseconds(60000)) {
    return std::async(std::launch::async, [this, request = std::move(request), deadline] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + deadline);
      inference::ModelInferResponse response;
      grpc::Status status = stub_->ModelInfer(&context, request, &response);
      return std::make_pair(status, response);
    });
  }

  int QueueDepth(const std::string& model) {
    auto served = server_->repository().Get(model, "");
    return served.ok() ? (*served)->scheduler().queue_depth() : -1;
  }

  inference::ModelStatistics Statistics(const std::string& model) {
    grpc::ClientContext context;
    inference::ModelStatisticsRequest request;
    request.set_name(model);
    inference::ModelStatisticsResponse response;
    EXPECT_TRUE(stub_->ModelStatistics(&context, request, &response).ok());
    return response.model_stats_size() == 1 ? response.model_stats(0)
                                            : inference::ModelStatistics();
  }
};

TEST_F(GrpcBatchingTest, SixtyFourConcurrentClientsAreBatchedAndEachGetsItsOwnResult) {
  auto loaded = LoadModel(*repository_ + "/lenet", LoadOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  Executor engine(loaded->plan, ThreadPool::Default());
  const uint64_t served_before = Statistics("lenet").inference_count();

  constexpr int kClients = 64, kRequestsEach = 3;
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto stub = Connect(server_->grpc_port());  // a connection per client
      for (int i = 0; i < kRequestsEach; ++i) {
        std::vector<float> input;
        const inference::ModelInferRequest request = OneImage("lenet", &input);
        grpc::ClientContext context;
        inference::ModelInferResponse response;
        if (!stub->ModelInfer(&context, request, &response).ok()) {
          ++failures;
          continue;
        }
        // The engine on this image alone; batched rows may round
        // differently in the last bits, never more.
        Tensor expected;
        static std::mutex engine_mutex;
        {
          std::lock_guard<std::mutex> lock(engine_mutex);
          if (!engine.Run(input.data(), 1, expected).ok()) ++failures;
        }
        std::vector<double> reference(expected.data(), expected.data() + 10);
        const std::vector<float> got = OutputFloats(response);
        if (got.size() != 10 || testing::MaxRelativeError(got.data(), reference) > 1e-5) {
          ++mismatches;
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0) << "some caller got another caller's result";

  const inference::ModelStatistics stats = Statistics("lenet");
  EXPECT_EQ(stats.inference_count() - served_before, uint64_t{kClients * kRequestsEach});
  uint64_t largest = 0;
  for (const auto& batch : stats.batch_stats()) largest = std::max(largest, batch.batch_size());
  EXPECT_GT(largest, 1u) << stats.DebugString();
  EXPECT_GT(stats.inference_stats().queue().count(), 0u);
  EXPECT_GT(stats.inference_stats().compute_infer().ns(), 0u);
  ASSERT_EQ(stats.memory_usage_size(), 1);  // a CPU server: no CPU_PINNED or GPU entries
  EXPECT_EQ(stats.memory_usage(0).type(), "CPU");
  EXPECT_GT(stats.memory_usage(0).byte_size(), 61706u * 4);
}

TEST_F(GrpcBatchingTest, FullQueueIsRefusedAtOnceWithUnavailable) {
  auto first = InferAsync(OneImage("queued"));
  auto second = InferAsync(OneImage("queued"));
  const auto start = SteadyClock::now();
  while (QueueDepth("queued") < 2) {
    ASSERT_LT(SteadyClock::now() - start, std::chrono::seconds(10));
    std::this_thread::sleep_for(milliseconds(1));
  }
  grpc::ClientContext context;
  inference::ModelInferResponse response;
  const auto refused_at = SteadyClock::now();
  const grpc::Status third = stub_->ModelInfer(&context, OneImage("queued"), &response);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(third.error_message().find("queue is full"), std::string::npos)
      << third.error_message();
  EXPECT_LT(SteadyClock::now() - refused_at, milliseconds(500)) << "refusal must not wait";
  EXPECT_TRUE(first.get().first.ok());
  EXPECT_TRUE(second.get().first.ok());
}

TEST_F(GrpcBatchingTest, RequestThatTimesOutInTheQueueGetsDeadlineExceeded) {
  const auto start = SteadyClock::now();
  auto result = InferAsync(OneImage("timeout")).get();
  EXPECT_EQ(result.first.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(result.first.error_message().find("timed out"), std::string::npos)
      << result.first.error_message();
  EXPECT_LT(SteadyClock::now() - start, std::chrono::seconds(3));
  EXPECT_GT(Statistics("timeout").inference_stats().fail().count(), 0u);
}

inference::ModelInferRequest WithPriority(inference::ModelInferRequest request, uint64_t priority) {
  (*request.mutable_parameters())["priority"].set_uint64_param(priority);
  return request;
}

void WaitForQueueDepth(const std::function<int()>& depth, int wanted) {
  const auto start = SteadyClock::now();
  while (depth() < wanted) {
    ASSERT_LT(SteadyClock::now() - start, std::chrono::seconds(10));
    std::this_thread::sleep_for(milliseconds(1));
  }
}

TEST_F(GrpcBatchingTest, EachPriorityLevelHasItsOwnQueueLimit) {
  auto depth = [this] { return QueueDepth("prioritized"); };
  auto high = InferAsync(WithPriority(OneImage("prioritized"), 1));
  ASSERT_NO_FATAL_FAILURE(WaitForQueueDepth(depth, 1));
  grpc::ClientContext context;
  inference::ModelInferResponse response;
  const grpc::Status refused =
      stub_->ModelInfer(&context, WithPriority(OneImage("prioritized"), 1), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(refused.error_message().find("max_queue_size 1 at priority level 1"), std::string::npos)
      << refused.error_message();
  // Level 2 (the default for a request that names none) has room for two.
  auto unnamed = InferAsync(OneImage("prioritized"));
  auto low = InferAsync(WithPriority(OneImage("prioritized"), 2));
  ASSERT_NO_FATAL_FAILURE(WaitForQueueDepth(depth, 3));
  grpc::ClientContext full_context;
  const grpc::Status full = stub_->ModelInfer(&full_context, OneImage("prioritized"), &response);
  EXPECT_EQ(full.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(full.error_message().find("max_queue_size 2 at priority level 2"), std::string::npos)
      << full.error_message();
  for (auto* future : {&high, &unnamed, &low}) {
    auto [status, answer] = future->get();
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(OutputFloats(answer).size(), 10u);
  }
}

TEST_F(GrpcBatchingTest, APriorityOutsideTheLevelsIsRefusedByName) {
  for (uint64_t priority : {3, 100}) {
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    const grpc::Status status =
        stub_->ModelInfer(&context, WithPriority(OneImage("prioritized"), priority), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find(
                  absl::StrCat("model 'prioritized': priority ", priority,
                               " is outside [1, priority_levels 2] (0 or none: the default, 2)")),
              std::string::npos)
        << status.error_message();
  }
  inference::ModelInferRequest text = OneImage("prioritized");
  (*text.mutable_parameters())["priority"].set_string_param("high");
  grpc::ClientContext context;
  inference::ModelInferResponse response;
  const grpc::Status status = stub_->ModelInfer(&context, text, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("parameter 'priority' must be a non-negative integer"),
            std::string::npos)
      << status.error_message();
  // A model without levels serves every request at its one level, as
  // Triton does, whatever priority it names.
  auto [flat_status, flat] = InferAsync(WithPriority(OneImage("lenet"), 7)).get();
  EXPECT_TRUE(flat_status.ok()) << flat_status.error_message();
  EXPECT_EQ(OutputFloats(flat).size(), 10u);
}

TEST_F(GrpcBatchingTest, ARequestThatTimesOutWithActionDelayStillRuns) {
  const uint64_t failed_before = Statistics("delayed").inference_stats().fail().count();
  const auto start = SteadyClock::now();
  auto [status, response] = InferAsync(OneImage("delayed")).get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(OutputFloats(response).size(), 10u);
  EXPECT_GE(SteadyClock::now() - start, milliseconds(300));  // ran when the batching delay ended
  EXPECT_EQ(Statistics("delayed").inference_stats().fail().count(), failed_before);
}

TEST_F(GrpcBatchingTest, ClientSendingOneRequestAtATimeStopsPayingTheDelay) {
  std::vector<milliseconds> round_trips;
  for (int i = 0; i < 16; ++i) {
    const auto start = SteadyClock::now();
    auto [status, response] = InferAsync(OneImage("adaptive")).get();
    round_trips.push_back(std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start));
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.raw_output_contents_size(), 1);
  }
  // A fresh model waits for company as configured...
  EXPECT_GE(round_trips[0], milliseconds(150));
  // ...until it has seen about a dozen requests arrive alone.
  for (int i = 13; i < 16; ++i) EXPECT_LT(round_trips[i], milliseconds(75)) << "request " << i;
  const auto stats = Statistics("adaptive");
  EXPECT_EQ(stats.inference_stats().success().count(), 16u);
  EXPECT_EQ(stats.execution_count(), 16u);  // every request ran alone
}

TEST_F(GrpcBatchingTest, CancelledClientIsDroppedFromTheQueue) {
  // The client gives up after 100 ms, long before the 0.8 s batching delay.
  auto abandoned = InferAsync(OneImage("queued"), milliseconds(100)).get();
  EXPECT_EQ(abandoned.first.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  const auto start = SteadyClock::now();
  while (QueueDepth("queued") != 0) {
    ASSERT_LT(SteadyClock::now() - start, std::chrono::seconds(5))
        << "the cancelled request stayed in the queue";
    std::this_thread::sleep_for(milliseconds(1));
  }
  // Both places in the queue are free again.
  auto a = InferAsync(OneImage("queued"));
  auto b = InferAsync(OneImage("queued"));
  EXPECT_TRUE(a.get().first.ok());
  EXPECT_TRUE(b.get().first.ok());
}

TEST_F(GrpcBatchingTest, UnloadWhileRequestsAreInFlightLosesNone) {
  std::vector<std::future<std::pair<grpc::Status, inference::ModelInferResponse>>> in_flight;
  for (int i = 0; i < 8; ++i) in_flight.push_back(InferAsync(OneImage("unloadable")));
  const auto start = SteadyClock::now();
  while (QueueDepth("unloadable") < 8) {  // all 8 wait out the 0.3 s delay
    ASSERT_LT(SteadyClock::now() - start, std::chrono::seconds(10));
    std::this_thread::sleep_for(milliseconds(1));
  }
  {
    grpc::ClientContext context;
    inference::RepositoryModelUnloadRequest request;
    request.set_model_name("unloadable");
    inference::RepositoryModelUnloadResponse response;
    ASSERT_TRUE(stub_->RepositoryModelUnload(&context, request, &response).ok());
  }
  for (auto& future : in_flight) {
    auto [status, response] = future.get();
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(OutputFloats(response).size(), 10u);
  }
  grpc::ClientContext context;
  inference::ModelInferResponse response;
  const grpc::Status after = stub_->ModelInfer(&context, OneImage("unloadable"), &response);
  EXPECT_EQ(after.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(after.error_message().find("unloaded"), std::string::npos) << after.error_message();

  grpc::ClientContext load_context;
  inference::RepositoryModelLoadRequest load;
  load.set_model_name("unloadable");
  inference::RepositoryModelLoadResponse load_response;
  ASSERT_TRUE(stub_->RepositoryModelLoad(&load_context, load, &load_response).ok());
  EXPECT_TRUE(InferAsync(OneImage("unloadable")).get().first.ok());
}

TEST_F(GrpcBatchingTest, LoadValidatesNamesBeforeTouchingTheFileSystem) {
  for (const auto& [name, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
           {"../models", grpc::StatusCode::INVALID_ARGUMENT},
           {"a/b", grpc::StatusCode::INVALID_ARGUMENT},
           {".hidden", grpc::StatusCode::INVALID_ARGUMENT},
           {"", grpc::StatusCode::INVALID_ARGUMENT},
           {"not_there", grpc::StatusCode::NOT_FOUND}}) {
    grpc::ClientContext context;
    inference::RepositoryModelLoadRequest request;
    request.set_model_name(name);
    inference::RepositoryModelLoadResponse response;
    EXPECT_EQ(stub_->RepositoryModelLoad(&context, request, &response).error_code(), code)
        << "'" << name << "'";
  }
}

}  // namespace
}  // namespace convd::e2e
