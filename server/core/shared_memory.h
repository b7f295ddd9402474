// The KServe v2 system shared-memory extension: clients on the server's
// host register regions of POSIX shared-memory objects by name, then name a
// region (with an offset and a byte size) in an inference request instead
// of sending an input's bytes or receiving an output's.
//
// Regions are read and written with pread/pwrite on the object's file
// descriptor, never through a mapping: a client may shrink its object at
// any time, and a mapped access past the object's new end would kill the
// whole server with SIGBUS. A short pread is an error for that request
// alone. The copy costs what a memcpy from a mapping would.
//
// Thread safety: every method may be called concurrently. A region
// unregistered while requests still use it stays open until they finish.
#ifndef CONVD_SERVER_CORE_SHARED_MEMORY_H_
#define CONVD_SERVER_CORE_SHARED_MEMORY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/map.h"
#include "proto/inference.pb.h"

namespace convd {

// One registered region: bytes [offset, offset + byte_size) of the object
// that shm_open(key) names.
class SharedMemoryRegion {
 public:
  // Opens `key` read-write and checks that the region lies inside the
  // object. NOT_FOUND when no object has that key, PERMISSION_DENIED when
  // it cannot be opened, INVALID_ARGUMENT for an empty or out-of-bounds
  // region.
  static absl::StatusOr<std::shared_ptr<SharedMemoryRegion>> Open(std::string name, std::string key,
                                                                  uint64_t offset,
                                                                  uint64_t byte_size);
  ~SharedMemoryRegion();  // closes the descriptor
  SharedMemoryRegion(const SharedMemoryRegion&) = delete;
  SharedMemoryRegion& operator=(const SharedMemoryRegion&) = delete;

  const std::string& name() const { return name_; }
  const std::string& key() const { return key_; }
  uint64_t offset() const { return offset_; }
  uint64_t byte_size() const { return byte_size_; }

  // Copies `size` bytes from `offset` within the region into `out`.
  // INVALID_ARGUMENT when the range leaves the region or the object has
  // shrunk under it since registration.
  absl::Status Read(uint64_t offset, uint64_t size, char* out) const;
  // Writes `bytes` at `offset` within the region; INVALID_ARGUMENT when
  // they do not fit in it.
  absl::Status Write(uint64_t offset, std::string_view bytes) const;

 private:
  SharedMemoryRegion(std::string name, std::string key, uint64_t offset, uint64_t byte_size,
                     int fd);
  absl::Status CheckRange(uint64_t offset, uint64_t size) const;

  const std::string name_, key_;
  const uint64_t offset_, byte_size_;
  const int fd_;
};

// Where a tensor's bytes are, from its shared_memory_* parameters.
struct SharedMemoryRef {
  std::shared_ptr<const SharedMemoryRegion> region;
  uint64_t offset = 0;     // within the region
  uint64_t byte_size = 0;  // offset + byte_size lies inside the region
};

class SharedMemoryRegistry {
 public:
  // More would risk the process's file descriptors.
  static constexpr size_t kMaxRegions = 1024;

  // `enabled` is --allow-client-shm: when false every call below fails
  // with FAILED_PRECONDITION saying how to enable it (any local client
  // could otherwise have the server read and write its shared memory).
  explicit SharedMemoryRegistry(bool enabled) : enabled_(enabled) {}

  bool enabled() const { return enabled_; }

  // ALREADY_EXISTS for a name in use; RESOURCE_EXHAUSTED past kMaxRegions;
  // else SharedMemoryRegion::Open's errors.
  absl::Status Register(const inference::SystemSharedMemoryRegisterRequest& request);
  // An empty name unregisters every region. As in Triton, a name that is
  // not registered is not an error (unregistering is idempotent).
  absl::Status Unregister(const std::string& name);
  // Every region, or the one named (NOT_FOUND if it is not registered).
  absl::StatusOr<inference::SystemSharedMemoryStatusResponse> Status(const std::string& name) const;

  // The region a tensor's parameters name: nullopt when they name none
  // ("shared_memory_region" absent). `tensor` describes the tensor for
  // messages ("input 'x'"). INVALID_ARGUMENT when shared_memory_byte_size
  // is missing, a value has the wrong type or the range leaves the region;
  // NOT_FOUND when the region is not registered.
  absl::StatusOr<std::optional<SharedMemoryRef>> Resolve(
      const google::protobuf::Map<std::string, inference::InferParameter>& parameters,
      const std::string& tensor) const;

 private:
  absl::Status CheckEnabled() const;

  const bool enabled_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const SharedMemoryRegion>> regions_;  // by name
};

}  // namespace convd

#endif  // CONVD_SERVER_CORE_SHARED_MEMORY_H_
