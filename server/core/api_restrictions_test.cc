#include "server/core/api_restrictions.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace convd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Protocol = ApiRestrictions::Protocol;

// A request's headers, looked up as the front ends do: by lowercase name.
absl::Status CheckWith(const ApiRestrictions& restrictions, ApiGroup group,
                       const std::map<std::string, std::string>& headers) {
  return restrictions.Check(group, [&](absl::string_view name) -> std::optional<std::string> {
    auto found = headers.find(std::string(name));
    if (found == headers.end()) return std::nullopt;
    return found->second;
  });
}

TEST(ApiRestrictionsTest, RestrictedGroupsNeedTheirHeaderAndTheOthersStayOpen) {
  absl::StatusOr<ApiRestrictions> http = ApiRestrictions::Parse(
      Protocol::kHttp, {"model-repository,trace:Admin-Key=s3cret", "inference:infer-key=abc=1"});
  ASSERT_TRUE(http.ok()) << http.status();
  // Open groups need nothing.
  EXPECT_TRUE(CheckWith(*http, ApiGroup::kHealth, {}).ok());
  EXPECT_TRUE(CheckWith(*http, ApiGroup::kStatistics, {}).ok());
  EXPECT_FALSE(http->restricted(ApiGroup::kMetadata));
  EXPECT_TRUE(http->restricted(ApiGroup::kTrace));
  // The header's name is matched in lowercase; its value exactly.
  EXPECT_TRUE(CheckWith(*http, ApiGroup::kModelRepository, {{"admin-key", "s3cret"}}).ok());
  EXPECT_TRUE(CheckWith(*http, ApiGroup::kTrace, {{"admin-key", "s3cret"}}).ok());
  EXPECT_TRUE(CheckWith(*http, ApiGroup::kInference, {{"infer-key", "abc=1"}}).ok());
  // One group's key opens no other.
  EXPECT_EQ(CheckWith(*http, ApiGroup::kInference, {{"admin-key", "s3cret"}}).code(),
            absl::StatusCode::kPermissionDenied);

  const absl::Status missing = CheckWith(*http, ApiGroup::kModelRepository, {});
  EXPECT_EQ(missing.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(missing.message(), HasSubstr("'model-repository'"));
  EXPECT_THAT(missing.message(), HasSubstr("'admin-key'"));
  EXPECT_THAT(missing.message(), Not(HasSubstr("s3cret")));
  for (const char* wrong : {"s3cre", "s3cret ", "S3CRET", "s3creT", ""}) {
    const absl::Status refused =
        CheckWith(*http, ApiGroup::kModelRepository, {{"admin-key", wrong}});
    EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << wrong;
    EXPECT_THAT(refused.message(), HasSubstr("is not it"));
    EXPECT_THAT(refused.message(), Not(HasSubstr("s3cret")));
  }
}

TEST(ApiRestrictionsTest, GrpcHeadersCarryTritonsPrefix) {
  absl::StatusOr<ApiRestrictions> grpc =
      ApiRestrictions::Parse(Protocol::kGrpc, {"shared-memory,logging:admin=x"});
  ASSERT_TRUE(grpc.ok()) << grpc.status();
  EXPECT_TRUE(CheckWith(*grpc, ApiGroup::kLogging, {{"triton-grpc-protocol-admin", "x"}}).ok());
  const absl::Status bare = CheckWith(*grpc, ApiGroup::kSharedMemory, {{"admin", "x"}});
  EXPECT_EQ(bare.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(bare.message(), HasSubstr("'triton-grpc-protocol-admin'"));
}

TEST(ApiRestrictionsTest, EveryGroupHasTritonsName) {
  std::vector<std::string> names;
  for (int i = 0; i < kApiGroupCount; ++i) names.push_back(ApiGroupName(static_cast<ApiGroup>(i)));
  EXPECT_THAT(names, ::testing::ElementsAre("health", "metadata", "inference", "shared-memory",
                                            "model-config", "model-repository", "statistics",
                                            "trace", "logging"));
  // Each parses, alone.
  for (const std::string& name : names) {
    absl::StatusOr<ApiRestrictions> one = ApiRestrictions::Parse(Protocol::kHttp, {name + ":k=v"});
    ASSERT_TRUE(one.ok()) << one.status();
    for (int i = 0; i < kApiGroupCount; ++i) {
      EXPECT_EQ(one->restricted(static_cast<ApiGroup>(i)), names[i] == name) << name;
    }
  }
}

TEST(ApiRestrictionsTest, MalformedSpecsAreRefusedNamingTheProblem) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"inference"}, "no ':'"},
      {{"inference:key"}, "no '='"},
      {{"inference:=v"}, "the key ''"},
      {{"inference:k="}, "the value must be"},
      {{"inference:k= v"}, "the value must be"},
      {{"inference:k=a\tb"}, "the value must be"},
      {{"inference:my key=v"}, "the key 'my key'"},
      {{"inference:key-bin=v"}, "ending in -bin"},
      {{"infer:k=v"}, "unknown group 'infer'"},
      {{"inference,:k=v"}, "unknown group ''"},
      {{"inference,trace:k=v", "trace:k2=v"}, "'trace' is restricted twice"},
  };
  for (const auto& [specs, why] : cases) {
    absl::StatusOr<ApiRestrictions> parsed = ApiRestrictions::Parse(Protocol::kHttp, specs);
    ASSERT_FALSE(parsed.ok()) << specs.back();
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr(why)) << specs.back();
    EXPECT_THAT(parsed.status().message(), HasSubstr("--http-restricted-api"));
  }
  EXPECT_TRUE(ApiRestrictions::Parse(Protocol::kHttp, {}).ok());
}

}  // namespace
}  // namespace convd
