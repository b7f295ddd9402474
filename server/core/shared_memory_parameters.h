// The KServe v2 shared-memory parameters of a tensor (an input, or a
// requested or returned output): "shared_memory_region" names a registered
// region, "shared_memory_byte_size" the tensor's bytes in it, and the
// optional "shared_memory_offset" (default 0) where they start. One
// spelling for the server's decoder and encoder, the REST codecs on both
// sides and convload.
#ifndef CONVD_SERVER_CORE_SHARED_MEMORY_PARAMETERS_H_
#define CONVD_SERVER_CORE_SHARED_MEMORY_PARAMETERS_H_

#include <cstdint>
#include <string>

#include "google/protobuf/map.h"
#include "proto/inference.pb.h"

namespace convd {

using TensorParameters = google::protobuf::Map<std::string, inference::InferParameter>;

inline constexpr char kSharedMemoryRegion[] = "shared_memory_region";
inline constexpr char kSharedMemoryByteSize[] = "shared_memory_byte_size";
inline constexpr char kSharedMemoryOffset[] = "shared_memory_offset";

// True when the tensor's bytes are in a shared-memory region rather than
// in the message.
inline bool InSharedMemory(const TensorParameters& parameters) {
  return parameters.contains(kSharedMemoryRegion);
}

// Names `region` for the tensor; the offset is written only when it is not
// its default, 0.
inline void SetSharedMemory(TensorParameters& parameters, const std::string& region,
                            uint64_t byte_size, uint64_t offset = 0) {
  parameters[kSharedMemoryRegion].set_string_param(region);
  parameters[kSharedMemoryByteSize].set_int64_param(static_cast<int64_t>(byte_size));
  if (offset > 0) parameters[kSharedMemoryOffset].set_int64_param(static_cast<int64_t>(offset));
}

}  // namespace convd

#endif  // CONVD_SERVER_CORE_SHARED_MEMORY_PARAMETERS_H_
