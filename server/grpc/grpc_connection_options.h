// How the gRPC port treats connections: keepalive pings and connection age,
// with Triton's flags and defaults (milliseconds):
//   --grpc-keepalive-time 7200000          ping an idle connection this often
//   --grpc-keepalive-timeout 20000         close it when a ping goes unanswered
//   --grpc-keepalive-permit-without-calls  accept clients' pings with no call open
//   --grpc-http2-max-pings-without-data 2  pings the server sends with no data
//   --grpc-http2-min-recv-ping-interval-without-data 300000
//                                          a client pinging more often strikes,
//   --grpc-http2-max-ping-strikes 2        and past this many strikes is sent
//                                          GOAWAY (0: any number)
//   --grpc-max-connection-age 0            GOAWAY a connection this old, so
//                                          clients reconnect and spread over
//                                          replicas a load balancer added
//                                          (0: never)
//   --grpc-max-connection-age-grace 0      then how long its calls may finish
//                                          (0: as long as they take)
#ifndef CONVD_SERVER_GRPC_GRPC_CONNECTION_OPTIONS_H_
#define CONVD_SERVER_GRPC_GRPC_CONNECTION_OPTIONS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "grpcpp/server_builder.h"

namespace convd {

struct GrpcConnectionOptions {
  int64_t keepalive_time_ms = 7'200'000;
  int64_t keepalive_timeout_ms = 20'000;
  bool keepalive_permit_without_calls = false;
  int64_t max_pings_without_data = 2;
  int64_t min_recv_ping_interval_without_data_ms = 300'000;
  int64_t max_ping_strikes = 2;
  int64_t max_connection_age_ms = 0;        // 0: never
  int64_t max_connection_age_grace_ms = 0;  // 0: unlimited
};

// INVALID_ARGUMENT naming the flag of a value out of range: the times from
// 1 ms (0 where 0 has a meaning above) to 2^31-1 ms, the counts from 0.
absl::Status ValidateGrpcConnectionOptions(const GrpcConnectionOptions& options);

// Sets the channel arguments on the server being built (options valid).
void ApplyGrpcConnectionOptions(const GrpcConnectionOptions& options, grpc::ServerBuilder& builder);

}  // namespace convd

#endif  // CONVD_SERVER_GRPC_GRPC_CONNECTION_OPTIONS_H_
