#include "server/core/api_restrictions.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace convd {
namespace {

constexpr char kGrpcHeaderPrefix[] = "triton-grpc-protocol-";

constexpr ApiGroup kGroups[] = {
    ApiGroup::kHealth,       ApiGroup::kMetadata,    ApiGroup::kInference,
    ApiGroup::kSharedMemory, ApiGroup::kModelConfig, ApiGroup::kModelRepository,
    ApiGroup::kStatistics,   ApiGroup::kTrace,       ApiGroup::kLogging,
};
static_assert(std::size(kGroups) == kApiGroupCount);

std::optional<ApiGroup> GroupNamed(absl::string_view name) {
  for (ApiGroup group : kGroups) {
    if (name == ApiGroupName(group)) return group;
  }
  return std::nullopt;
}

// A header name both protocols carry as it is: gRPC metadata keys are
// lowercase letters, digits, '-', '_' and '.', and a "-bin" suffix would
// make the value binary.
bool IsHeaderKey(absl::string_view key) {
  if (key.empty() || absl::EndsWithIgnoreCase(key, "-bin")) return false;
  for (char c : key) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Printable ASCII, as a header value may be on either protocol, with no
// space at either end (HTTP drops it).
bool IsHeaderValue(absl::string_view value) {
  if (value.empty() || value.front() == ' ' || value.back() == ' ') return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Compares in time that depends on the lengths only, so the time a refusal
// takes does not reveal how much of a guess was right.
bool SameSecret(absl::string_view given, absl::string_view expected) {
  if (given.size() != expected.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < given.size(); ++i) {
    difference |= static_cast<unsigned char>(given[i] ^ expected[i]);
  }
  return difference == 0;
}

}  // namespace

const char* ApiGroupName(ApiGroup group) {
  switch (group) {
    case ApiGroup::kHealth:
      return "health";
    case ApiGroup::kMetadata:
      return "metadata";
    case ApiGroup::kInference:
      return "inference";
    case ApiGroup::kSharedMemory:
      return "shared-memory";
    case ApiGroup::kModelConfig:
      return "model-config";
    case ApiGroup::kModelRepository:
      return "model-repository";
    case ApiGroup::kStatistics:
      return "statistics";
    case ApiGroup::kTrace:
      return "trace";
    case ApiGroup::kLogging:
      return "logging";
  }
  return "unknown";
}

absl::StatusOr<ApiRestrictions> ApiRestrictions::Parse(Protocol protocol,
                                                       const std::vector<std::string>& specs) {
  const std::string flag =
      protocol == Protocol::kGrpc ? "--grpc-restricted-protocol" : "--http-restricted-api";
  ApiRestrictions restrictions;
  for (const std::string& spec : specs) {
    auto refuse = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " '", spec, "': ", why, "; the form is <group>[,<group>...]:<key>=<value>"));
    };
    const size_t colon = spec.find(':');
    if (colon == std::string::npos) return refuse("no ':' after the groups");
    const absl::string_view header(absl::string_view(spec).substr(colon + 1));
    const size_t equals = header.find('=');
    if (equals == absl::string_view::npos) return refuse("no '=' between the key and the value");
    const absl::string_view key = header.substr(0, equals);
    const absl::string_view value = header.substr(equals + 1);
    if (!IsHeaderKey(key)) {
      return refuse(absl::StrCat("the key '", key,
                                 "' is not a header name convd accepts (letters, digits, '-', "
                                 "'_' and '.', not ending in -bin)"));
    }
    if (!IsHeaderValue(value)) {
      return refuse("the value must be printable ASCII, not empty, with no space at either end");
    }
    Restriction restriction{absl::StrCat(protocol == Protocol::kGrpc ? kGrpcHeaderPrefix : "",
                                         absl::AsciiStrToLower(key)),
                            std::string(value)};
    for (absl::string_view name : absl::StrSplit(absl::string_view(spec).substr(0, colon), ',')) {
      const std::optional<ApiGroup> group = GroupNamed(name);
      if (!group.has_value()) {
        return refuse(absl::StrCat("unknown group '", name,
                                   "'; the groups are health, metadata, inference, "
                                   "shared-memory, model-config, model-repository, statistics, "
                                   "trace and logging"));
      }
      std::optional<Restriction>& slot = restrictions.restrictions_[static_cast<int>(*group)];
      if (slot.has_value()) {
        return refuse(absl::StrCat("the group '", name, "' is restricted twice"));
      }
      slot = restriction;
    }
  }
  return restrictions;
}

absl::Status ApiRestrictions::Check(
    ApiGroup group,
    absl::FunctionRef<std::optional<std::string>(absl::string_view name)> header) const {
  const std::optional<Restriction>& restriction = restrictions_[static_cast<int>(group)];
  if (!restriction.has_value()) return absl::OkStatus();
  const std::optional<std::string> given = header(restriction->header);
  if (given.has_value() && SameSecret(*given, restriction->value)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("the '", ApiGroupName(group), "' API is restricted: send the header '",
                   restriction->header, "' with the value convd was started with",
                   given.has_value() ? " (the one sent is not it)" : ""));
}

}  // namespace convd
