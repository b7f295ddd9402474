// The JSON forms of KServe v2 parameters and tensor data, one reading and
// writing for everything that speaks REST: the server's inference body
// codec (infer_json) and the client's (client/rest_codec).
#ifndef CONVD_SERVER_HTTP_JSON_TENSOR_H_
#define CONVD_SERVER_HTTP_JSON_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "proto/inference.pb.h"
#include "rapidjson/document.h"
#include "server/http/json_util.h"

namespace convd {

// A parameter value: bool, integer (int64, else uint64), other number
// (double) or string. INVALID_ARGUMENT "<where> must be a bool, number or
// string" for anything else.
absl::Status JsonToParameter(const std::string& where, const rapidjson::Value& value,
                             inference::InferParameter& out);
void WriteParameter(const inference::InferParameter& parameter, JsonWriter& writer);

// Appends tensor "data" (flat or nested arrays, row-major) of `datatype` to
// `raw` in the binary layout (little-endian scalars; BYTES with 4-byte
// length prefixes) and adds the element count to `count`. INVALID_ARGUMENT
// naming `where` ("input 'x'") and the element for a value of the wrong
// type or range, for nesting deeper than any tensor rank, and for
// datatypes with no JSON form (FP16, BF16).
absl::Status AppendJsonData(const std::string& where, const rapidjson::Value& data,
                            const std::string& datatype, std::string& raw, int64_t& count);

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_JSON_TENSOR_H_
