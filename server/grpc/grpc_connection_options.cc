#include "server/grpc/grpc_connection_options.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "grpc/grpc.h"

namespace convd {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int>::max();

absl::Status InRange(const char* flag, int64_t value, int64_t min) {
  if (value >= min && value <= kMaxInt) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(flag, " must be in [", min, ", ", kMaxInt, "]; got ", value));
}

}  // namespace

absl::Status ValidateGrpcConnectionOptions(const GrpcConnectionOptions& options) {
  for (const absl::Status& status : {
           InRange("--grpc-keepalive-time", options.keepalive_time_ms, 1),
           InRange("--grpc-keepalive-timeout", options.keepalive_timeout_ms, 1),
           InRange("--grpc-http2-max-pings-without-data", options.max_pings_without_data, 0),
           InRange("--grpc-http2-min-recv-ping-interval-without-data",
                   options.min_recv_ping_interval_without_data_ms, 0),
           InRange("--grpc-http2-max-ping-strikes", options.max_ping_strikes, 0),
           InRange("--grpc-max-connection-age", options.max_connection_age_ms, 0),
           InRange("--grpc-max-connection-age-grace", options.max_connection_age_grace_ms, 0),
       }) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

void ApplyGrpcConnectionOptions(const GrpcConnectionOptions& options,
                                grpc::ServerBuilder& builder) {
  auto set = [&builder](const char* name, int64_t value) {
    builder.AddChannelArgument(name, static_cast<int>(value));
  };
  set(GRPC_ARG_KEEPALIVE_TIME_MS, options.keepalive_time_ms);
  set(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, options.keepalive_timeout_ms);
  set(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, options.keepalive_permit_without_calls ? 1 : 0);
  set(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, options.max_pings_without_data);
  set(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      options.min_recv_ping_interval_without_data_ms);
  set(GRPC_ARG_HTTP2_MAX_PING_STRIKES, options.max_ping_strikes);
  if (options.max_connection_age_ms > 0) {
    set(GRPC_ARG_MAX_CONNECTION_AGE_MS, options.max_connection_age_ms);
  }
  if (options.max_connection_age_grace_ms > 0) {
    set(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, options.max_connection_age_grace_ms);
  }
}

}  // namespace convd
