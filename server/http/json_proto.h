// Protobuf messages as the JSON Triton's REST API returns: proto field
// names, 64-bit integers as numbers (protobuf's own JSON printer writes them
// as strings, which tritonclient and perf_analyzer do not expect), enums by
// name, maps as objects. Scalars and repeated fields are always written
// (clients index counters that are zero); unset sub-messages and oneof
// members are left out, so "dynamic_batching" appears only when configured.
#ifndef CONVD_SERVER_HTTP_JSON_PROTO_H_
#define CONVD_SERVER_HTTP_JSON_PROTO_H_

#include <string>

#include "google/protobuf/message.h"

namespace convd {

std::string ProtoToJson(const google::protobuf::Message& message);

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_JSON_PROTO_H_
