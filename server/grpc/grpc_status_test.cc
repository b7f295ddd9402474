#include "server/grpc/grpc_status.h"

#include "gtest/gtest.h"

namespace convd {
namespace {

TEST(GrpcStatusTest, OkIsOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

TEST(GrpcStatusTest, EveryCanonicalCodeKeepsItsCodeAndMessage) {
  const std::pair<absl::Status, grpc::StatusCode> cases[] = {
      {absl::InvalidArgumentError("bad shape"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::NotFoundError("no model"), grpc::StatusCode::NOT_FOUND},
      {absl::UnavailableError("queue full"), grpc::StatusCode::UNAVAILABLE},
      {absl::DeadlineExceededError("timed out"), grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::CancelledError("cancelled"), grpc::StatusCode::CANCELLED},
      {absl::FailedPreconditionError("control off"), grpc::StatusCode::FAILED_PRECONDITION},
      {absl::ResourceExhaustedError("oom"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::UnimplementedError("onnx"), grpc::StatusCode::UNIMPLEMENTED},
      {absl::InternalError("bug"), grpc::StatusCode::INTERNAL},
      {absl::DataLossError("truncated"), grpc::StatusCode::DATA_LOSS},
      {absl::UnauthenticatedError("who"), grpc::StatusCode::UNAUTHENTICATED},
  };
  for (const auto& [status, code] : cases) {
    const grpc::Status converted = ToGrpcStatus(status);
    EXPECT_EQ(converted.error_code(), code) << status;
    EXPECT_EQ(converted.error_message(), status.message());
  }
}

TEST(GrpcStatusTest, CodesGrpcLacksBecomeUnknown) {
  const absl::Status odd(static_cast<absl::StatusCode>(42), "future code");
  EXPECT_EQ(ToGrpcStatus(odd).error_code(), grpc::StatusCode::UNKNOWN);
}

}  // namespace
}  // namespace convd
