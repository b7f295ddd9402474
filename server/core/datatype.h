// The KServe v2 tensor datatypes and the bytes an element of each takes in
// binary form: one table for the server's codecs (gRPC, JSON) and the
// clients (.npy files, load generation).
#ifndef CONVD_SERVER_CORE_DATATYPE_H_
#define CONVD_SERVER_CORE_DATATYPE_H_

#include <cstdint>
#include <string_view>

namespace convd {

// Bytes per element of `datatype` ("FP32": 4); 0 for BYTES, whose elements
// are length-prefixed strings of any size, and for names that are not
// KServe datatypes.
constexpr int64_t DatatypeBytes(std::string_view datatype) {
  struct Size {
    std::string_view datatype;
    int64_t bytes;
  };
  constexpr Size kSizes[] = {
      {"BOOL", 1}, {"UINT8", 1}, {"UINT16", 2}, {"UINT32", 4}, {"UINT64", 8},
      {"INT8", 1}, {"INT16", 2}, {"INT32", 4},  {"INT64", 8},  {"FP16", 2},
      {"BF16", 2}, {"FP32", 4},  {"FP64", 8},   {"BYTES", 0},
  };
  for (const Size& size : kSizes) {
    if (size.datatype == datatype) return size.bytes;
  }
  return 0;
}

}  // namespace convd

#endif  // CONVD_SERVER_CORE_DATATYPE_H_
