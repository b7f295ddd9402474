// Triton's restricted APIs: groups of endpoints that answer only requests
// carrying a header with a value given at start, so that, for example,
// clients may infer while only operators holding a key may load models or
// change trace settings.
//
//   --grpc-restricted-protocol=<group>[,<group>...]:<key>=<value>
//   --http-restricted-api=<group>[,<group>...]:<key>=<value>
//
// Each flag may be given several times, a group at most once per protocol.
// The groups are Triton's: health, metadata, inference, shared-memory,
// model-config, model-repository, statistics, trace, logging. Over gRPC the
// header is `triton-grpc-protocol-<key>` (gRPC metadata), over HTTP `<key>`
// (any case). A request to a restricted group without the header, or with
// another value, is refused with PERMISSION_DENIED (HTTP 403) naming the
// group and the header, never the value; it reaches no model.
//
// Thread safety: immutable once parsed; Check may be called concurrently.
#ifndef CONVD_SERVER_CORE_API_RESTRICTIONS_H_
#define CONVD_SERVER_CORE_API_RESTRICTIONS_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convd {

enum class ApiGroup {
  kHealth,
  kMetadata,
  kInference,
  kSharedMemory,
  kModelConfig,
  kModelRepository,
  kStatistics,
  kTrace,
  kLogging,
};
inline constexpr int kApiGroupCount = 9;

// Triton's name of a group ("model-repository").
const char* ApiGroupName(ApiGroup group);

class ApiRestrictions {
 public:
  // Which protocol's flag and header form the specs follow.
  enum class Protocol { kGrpc, kHttp };

  ApiRestrictions() = default;  // nothing restricted

  // Parses the flag's values, one group list and header each.
  // INVALID_ARGUMENT naming the spec and what is wrong: no ':' or '=', an
  // unknown or repeated group, an empty key or value, a key that cannot be
  // a header name.
  static absl::StatusOr<ApiRestrictions> Parse(Protocol protocol,
                                               const std::vector<std::string>& specs);

  // OK when `group` is open, or the request's header named for it holds
  // its value; else PERMISSION_DENIED. `header` returns a header's value
  // by its lowercase name (nullopt when absent).
  absl::Status Check(
      ApiGroup group,
      absl::FunctionRef<std::optional<std::string>(absl::string_view name)> header) const;

  bool restricted(ApiGroup group) const {
    return restrictions_[static_cast<int>(group)].has_value();
  }

 private:
  struct Restriction {
    std::string header;  // lowercase, with the protocol's prefix
    std::string value;
  };
  std::array<std::optional<Restriction>, kApiGroupCount> restrictions_;
};

}  // namespace convd

#endif  // CONVD_SERVER_CORE_API_RESTRICTIONS_H_
