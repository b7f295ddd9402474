// ModelStreamInfer end to end: many inferences on one bidirectional stream
// of a real server on loopback, answered once each, matched by id, equal to
// the unary answers; failures answered in the stream, which stays open;
// malformed messages (sent through a generic stub) likewise; a client that
// cancels gets CANCELLED and the server goes on serving; preserve_ordering
// answers in the stream's order.
#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "tests/e2e/e2e_util.h"

namespace convd::e2e {
namespace {

using inference::ModelInferRequest;
using inference::ModelStreamInferResponse;

class GrpcStreamTest : public SharedServerTest<GrpcStreamTest> {
 public:
  static void AddModels(const std::string& repository) {
    AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
    // Holds requests 2 s waiting for a batch of 16.
    AddModel(repository, "slow", "lenet5", R"pb(
      max_batch_size: 16
      input { name: "input" dims: [1, 28, 28] }
      output { name: "prob" dims: [10] }
      dynamic_batching { max_queue_delay_microseconds: 2000000 strict_queue_delay: true }
    )pb");
    // Two priority levels; requests wait 0.3 s for company, so a stream's
    // requests written at once run in one batch, in priority order. With
    // preserve_ordering, answered in the stream's order all the same.
    for (const bool preserve_ordering : {false, true}) {
      AddModel(repository, preserve_ordering ? "ordered" : "unordered", "lenet5",
               absl::StrCat(R"(
        max_batch_size: 16
        input { name: "input" dims: [1, 28, 28] }
        output { name: "prob" dims: [10] }
        instance_group { count: 2 }
        dynamic_batching {
          max_queue_delay_microseconds: 300000
          strict_queue_delay: true
          priority_levels: 2
          default_priority_level: 2
          preserve_ordering: )",
                            preserve_ordering ? "true" : "false", " }"));
    }
  }

 protected:
  static ModelInferRequest Request(const std::string& model, int rows, const std::string& id) {
    ModelInferRequest request =
        FloatRequest(model, {rows, 1, 28, 28}, testing::RandomVector(rows * 28 * 28));
    request.set_id(id);
    return request;
  }
};

TEST_F(GrpcStreamTest, ManyInferencesOneAnswerEachMatchedById) {
  std::map<std::string, ModelInferRequest> sent;
  for (int i = 0; i < 24; ++i) {
    const std::string id = absl::StrCat("r", i);
    sent[id] = Request("lenet", 1 + i % 3, id);
  }
  ModelInferRequest unknown = Request("resnet9000", 1, "bad-model");
  ModelInferRequest wrong_shape =
      FloatRequest("lenet", {1, 1, 28, 27}, testing::RandomVector(784 - 28));
  wrong_shape.set_id("bad-shape");

  grpc::ClientContext context;
  auto stream = stub_->ModelStreamInfer(&context);
  int written = 0;
  for (auto& [id, request] : sent) {
    ASSERT_TRUE(stream->Write(request));
    ++written;
    if (written == 5) {
      ASSERT_TRUE(stream->Write(unknown));
    }
    if (written == 17) {
      ASSERT_TRUE(stream->Write(wrong_shape));
    }
  }
  ASSERT_TRUE(stream->WritesDone());
  std::map<std::string, ModelStreamInferResponse> answers;
  ModelStreamInferResponse response;
  while (stream->Read(&response)) {
    const std::string id = response.infer_response().id();
    EXPECT_FALSE(answers.contains(id)) << "answered twice: " << id;
    answers[id] = response;
  }
  const grpc::Status finished = stream->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  ASSERT_EQ(answers.size(), sent.size() + 2);

  EXPECT_NE(answers["bad-model"].error_message().find("unknown model 'resnet9000'"),
            std::string::npos)
      << answers["bad-model"].error_message();
  EXPECT_EQ(answers["bad-model"].infer_response().model_name(), "resnet9000");
  EXPECT_NE(answers["bad-shape"].error_message().find("has shape [1, 1, 28, 27]"),
            std::string::npos)
      << answers["bad-shape"].error_message();

  // Each answer is its own request's: as the unary call answers it.
  for (const auto& [id, request] : sent) {
    const ModelStreamInferResponse& answer = answers[id];
    ASSERT_TRUE(answer.error_message().empty()) << id << ": " << answer.error_message();
    grpc::ClientContext unary_context;
    inference::ModelInferResponse unary;
    ASSERT_TRUE(stub_->ModelInfer(&unary_context, request, &unary).ok());
    const std::vector<float> streamed = OutputFloats(answer.infer_response());
    const std::vector<float> expected = OutputFloats(unary);
    ASSERT_EQ(streamed.size(), expected.size()) << id;
    ASSERT_EQ(streamed.size(), 10u * request.inputs(0).shape(0)) << id;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_NEAR(streamed[i], expected[i], 1e-5) << id << " at " << i;
    }
  }
}

grpc::ByteBuffer Bytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// One completion-queue step of the generic stub, which must succeed.
void Await(grpc::CompletionQueue& queue, intptr_t expected_tag) {
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(queue.Next(&tag, &ok));
  ASSERT_EQ(reinterpret_cast<intptr_t>(tag), expected_tag);
  ASSERT_TRUE(ok) << "step " << expected_tag;
}

ModelStreamInferResponse Parse(grpc::ByteBuffer& buffer) {
  ModelStreamInferResponse response;
  EXPECT_TRUE(
      grpc::SerializationTraits<ModelStreamInferResponse>::Deserialize(&buffer, &response).ok());
  return response;
}

// The ids of a stream's answers, in the order they came, for 8 one-image
// requests r0..r7 written at once, the odd ones at priority 1.
std::vector<std::string> AnswerOrder(inference::GRPCInferenceService::Stub& stub,
                                     const std::string& model) {
  grpc::ClientContext context;
  auto stream = stub.ModelStreamInfer(&context);
  for (int i = 0; i < 8; ++i) {
    ModelInferRequest request = FloatRequest(model, {1, 1, 28, 28}, testing::RandomVector(28 * 28));
    request.set_id(absl::StrCat("r", i));
    if (i % 2 == 1) (*request.mutable_parameters())["priority"].set_uint64_param(1);
    EXPECT_TRUE(stream->Write(request));
  }
  EXPECT_TRUE(stream->WritesDone());
  std::vector<std::string> order;
  ModelStreamInferResponse response;
  while (stream->Read(&response)) {
    EXPECT_EQ(response.error_message(), "");
    order.push_back(response.infer_response().id());
  }
  EXPECT_TRUE(stream->Finish().ok());
  return order;
}

TEST_F(GrpcStreamTest, PreserveOrderingAnswersInTheStreamsOrder) {
  using Ids = std::vector<std::string>;
  // One batch, taken in priority order, answered as taken: the four at
  // priority 1 first (among themselves, in the order they reached the
  // model, which the stream's reading threads may change)...
  Ids unordered = AnswerOrder(*stub_, "unordered");
  ASSERT_EQ(unordered.size(), 8u);
  std::sort(unordered.begin(), unordered.begin() + 4);
  std::sort(unordered.begin() + 4, unordered.end());
  EXPECT_EQ(unordered, (Ids{"r1", "r3", "r5", "r7", "r0", "r2", "r4", "r6"}));
  // ...or in the stream's order.
  EXPECT_EQ(AnswerOrder(*stub_, "ordered"), (Ids{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"}));
}

TEST_F(GrpcStreamTest, AMalformedMessageIsAnsweredAndTheStreamGoesOn) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  grpc::CompletionQueue queue;
  auto call =
      generic.PrepareCall(&context, "/inference.GRPCInferenceService/ModelStreamInfer", &queue);
  call->StartCall(reinterpret_cast<void*>(1));
  Await(queue, 1);
  call->Write(Bytes("\xff\xff\xff not a protobuf"), reinterpret_cast<void*>(2));
  Await(queue, 2);
  grpc::ByteBuffer received;
  call->Read(&received, reinterpret_cast<void*>(3));
  Await(queue, 3);
  EXPECT_EQ(Parse(received).error_message(), "request is not a valid ModelInferRequest protobuf");

  grpc::ByteBuffer valid;
  bool own_buffer = false;
  ASSERT_TRUE(grpc::SerializationTraits<ModelInferRequest>::Serialize(Request("lenet", 2, "after"),
                                                                      &valid, &own_buffer)
                  .ok());
  call->Write(valid, reinterpret_cast<void*>(4));
  Await(queue, 4);
  call->Read(&received, reinterpret_cast<void*>(5));
  Await(queue, 5);
  const ModelStreamInferResponse after = Parse(received);
  EXPECT_TRUE(after.error_message().empty()) << after.error_message();
  EXPECT_EQ(after.infer_response().id(), "after");
  EXPECT_EQ(OutputFloats(after.infer_response()).size(), 20u);
  call->WritesDone(reinterpret_cast<void*>(6));
  Await(queue, 6);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(7));
  Await(queue, 7);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(GrpcStreamTest, ACancelledStreamDropsItsQueuedRequestsAndTheServerGoesOn) {
  auto context = std::make_unique<grpc::ClientContext>();
  auto stream = stub_->ModelStreamInfer(context.get());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(stream->Write(Request("slow", 1, absl::StrCat(i))));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // queued, waiting for company
  const auto cancelled_at = std::chrono::steady_clock::now();
  context->TryCancel();
  ModelStreamInferResponse response;
  while (stream->Read(&response)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // Well before the 2 s batching delay ran out.
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::milliseconds(1500));

  // The dropped requests do not linger in the model's queue.
  grpc::ClientContext unary_context;
  inference::ModelInferResponse unary;
  const auto start = std::chrono::steady_clock::now();
  ModelInferRequest full = Request("slow", 16, "full");  // a full batch runs at once
  ASSERT_TRUE(stub_->ModelInfer(&unary_context, full, &unary).ok());
  EXPECT_EQ(OutputFloats(unary).size(), 160u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
}

// A server of its own, shut down while a client holds a stream open and
// idle: the stream ends UNAVAILABLE at once, not after the drain timeout.
TEST(GrpcStreamShutdownTest, AnIdleStreamDoesNotHoldTheShutdown) {
  const std::string repository = MakeTempDir("grpc_stream_shutdown");
  AddModel(repository, "lenet", "lenet5", kLenetConfig, kFashionLabels);
  std::unique_ptr<Server> server = StartServer(repository);
  ASSERT_NE(server, nullptr);
  auto stub = Connect(server->grpc_port());
  grpc::ClientContext context;
  auto stream = stub->ModelStreamInfer(&context);
  ModelInferRequest request = FloatRequest("lenet", {1, 1, 28, 28}, testing::RandomVector(784));
  request.set_id("before");
  ASSERT_TRUE(stream->Write(request));
  ModelStreamInferResponse answer;
  ASSERT_TRUE(stream->Read(&answer));
  EXPECT_TRUE(answer.error_message().empty()) << answer.error_message();

  const auto start = std::chrono::steady_clock::now();
  std::thread shutdown([&] { server->Shutdown(); });
  EXPECT_FALSE(stream->Read(&answer));  // the server ends the stream
  const grpc::Status status = stream->Finish();
  shutdown.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_NE(status.error_message().find("shutting down"), std::string::npos)
      << status.error_message();
  // The drain timeout is 60 s; the stream held nothing.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace convd::e2e
