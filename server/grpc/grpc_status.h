// The one conversion from absl::Status to grpc::Status. The canonical codes
// are the same numbers in both, so this keeps code and message as they are.
#ifndef CONVD_SERVER_GRPC_GRPC_STATUS_H_
#define CONVD_SERVER_GRPC_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace convd {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace convd

#endif  // CONVD_SERVER_GRPC_GRPC_STATUS_H_
