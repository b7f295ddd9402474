#include "server/core/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "server/core/shared_memory_parameters.h"

namespace convd {
namespace {

using inference::InferParameter;

// Ranges are kept below 2^63 so that every sum of two fits in off_t.
constexpr uint64_t kMaxBytes = uint64_t{1} << 62;

std::string ErrnoText(int error) { return std::strerror(error); }

// True when [offset, offset + size) lies inside [0, limit).
bool Fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

absl::StatusOr<int64_t> ObjectSize(int fd, const std::string& key) {
  struct stat info;
  if (fstat(fd, &info) != 0) {
    return absl::InternalError(
        absl::StrCat("shared memory key '", key, "': fstat: ", ErrnoText(errno)));
  }
  return static_cast<int64_t>(info.st_size);
}

// A non-negative integer parameter, from either integer form.
absl::StatusOr<uint64_t> ByteCount(const InferParameter& value, const std::string& where) {
  if (value.parameter_choice_case() == InferParameter::kInt64Param && value.int64_param() >= 0) {
    return static_cast<uint64_t>(value.int64_param());
  }
  if (value.parameter_choice_case() == InferParameter::kUint64Param) return value.uint64_param();
  return absl::InvalidArgumentError(absl::StrCat(where, " must be a non-negative integer"));
}

}  // namespace

SharedMemoryRegion::SharedMemoryRegion(std::string name, std::string key, uint64_t offset,
                                       uint64_t byte_size, int fd)
    : name_(std::move(name)),
      key_(std::move(key)),
      offset_(offset),
      byte_size_(byte_size),
      fd_(fd) {}

SharedMemoryRegion::~SharedMemoryRegion() { close(fd_); }

absl::StatusOr<std::shared_ptr<SharedMemoryRegion>> SharedMemoryRegion::Open(std::string name,
                                                                             std::string key,
                                                                             uint64_t offset,
                                                                             uint64_t byte_size) {
  const std::string what = absl::StrCat("shared memory region '", name, "'");
  if (name.empty()) return absl::InvalidArgumentError("a shared memory region needs a name");
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " needs a key"));
  if (byte_size == 0) return absl::InvalidArgumentError(absl::StrCat(what, " has byte_size 0"));
  if (offset > kMaxBytes || byte_size > kMaxBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": offset and byte_size must be below 2^62"));
  }
  // shm_open refuses keys holding '/' past the leading ones, so a key
  // cannot reach outside the shared-memory file system.
  const int fd = shm_open(key.c_str(), O_RDWR, 0);
  if (fd < 0) {
    const int error = errno;
    const std::string message =
        absl::StrCat(what, ": cannot open shared memory key '", key, "': ", ErrnoText(error));
    if (error == ENOENT) return absl::NotFoundError(message);
    if (error == EACCES) return absl::PermissionDeniedError(message);
    if (error == EMFILE || error == ENFILE) return absl::ResourceExhaustedError(message);
    return absl::InvalidArgumentError(message);
  }
  std::shared_ptr<SharedMemoryRegion> region(
      new SharedMemoryRegion(std::move(name), std::move(key), offset, byte_size, fd));
  absl::StatusOr<int64_t> object_size = ObjectSize(fd, region->key_);
  if (!object_size.ok()) return object_size.status();
  if (!Fits(offset, byte_size, static_cast<uint64_t>(*object_size))) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", byte_size, " bytes at offset ",
                                                   offset, " do not fit in key '", region->key_,
                                                   "' of ", *object_size, " bytes"));
  }
  return region;
}

absl::Status SharedMemoryRegion::CheckRange(uint64_t offset, uint64_t size) const {
  if (!Fits(offset, size, byte_size_)) {
    return absl::InvalidArgumentError(absl::StrCat(size, " bytes at offset ", offset,
                                                   " do not fit in shared memory region '", name_,
                                                   "' of ", byte_size_, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status SharedMemoryRegion::Read(uint64_t offset, uint64_t size, char* out) const {
  if (absl::Status range = CheckRange(offset, size); !range.ok()) return range;
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n =
        pread(fd_, out + done, size - done, static_cast<off_t>(offset_ + offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InternalError(
          absl::StrCat("shared memory region '", name_, "': read: ", ErrnoText(errno)));
    }
    if (n == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shared memory region '", name_, "': key '", key_,
                       "' has shrunk below the registered region; register it again"));
    }
    done += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SharedMemoryRegion::Write(uint64_t offset, std::string_view bytes) const {
  if (absl::Status range = CheckRange(offset, bytes.size()); !range.ok()) return range;
  // pwrite past the end would grow the client's object; refuse instead.
  absl::StatusOr<int64_t> object_size = ObjectSize(fd_, key_);
  if (!object_size.ok()) return object_size.status();
  if (!Fits(offset_ + offset, bytes.size(), static_cast<uint64_t>(*object_size))) {
    return absl::InvalidArgumentError(
        absl::StrCat("shared memory region '", name_, "': key '", key_,
                     "' has shrunk below the registered region; register it again"));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = pwrite(fd_, bytes.data() + done, bytes.size() - done,
                             static_cast<off_t>(offset_ + offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::InternalError(absl::StrCat("shared memory region '", name_,
                                              "': write: ", ErrnoText(n < 0 ? errno : EIO)));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SharedMemoryRegistry::CheckEnabled() const {
  if (enabled_) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "system shared memory is disabled; start convd with --allow-client-shm to use it");
}

absl::Status SharedMemoryRegistry::Register(
    const inference::SystemSharedMemoryRegisterRequest& request) {
  if (absl::Status enabled = CheckEnabled(); !enabled.ok()) return enabled;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (regions_.contains(request.name())) {
      return absl::AlreadyExistsError(
          absl::StrCat("shared memory region '", request.name(), "' is already registered"));
    }
    if (regions_.size() >= kMaxRegions) {
      return absl::ResourceExhaustedError(
          absl::StrCat(kMaxRegions,
                       " shared memory regions are registered, the most convd holds; "
                       "unregister some first"));
    }
  }
  // Opened outside the lock (a system call); the name is checked again.
  absl::StatusOr<std::shared_ptr<SharedMemoryRegion>> region = SharedMemoryRegion::Open(
      request.name(), request.key(), request.offset(), request.byte_size());
  if (!region.ok()) return region.status();
  std::lock_guard<std::mutex> lock(mutex_);
  if (!regions_.emplace(request.name(), *std::move(region)).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("shared memory region '", request.name(), "' is already registered"));
  }
  return absl::OkStatus();
}

absl::Status SharedMemoryRegistry::Unregister(const std::string& name) {
  if (absl::Status enabled = CheckEnabled(); !enabled.ok()) return enabled;
  std::lock_guard<std::mutex> lock(mutex_);
  if (name.empty()) {
    regions_.clear();
  } else {
    regions_.erase(name);
  }
  return absl::OkStatus();
}

absl::StatusOr<inference::SystemSharedMemoryStatusResponse> SharedMemoryRegistry::Status(
    const std::string& name) const {
  if (absl::Status enabled = CheckEnabled(); !enabled.ok()) return enabled;
  inference::SystemSharedMemoryStatusResponse response;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [region_name, region] : regions_) {
    if (!name.empty() && region_name != name) continue;
    auto& status = (*response.mutable_regions())[region_name];
    status.set_name(region_name);
    status.set_key(region->key());
    status.set_offset(region->offset());
    status.set_byte_size(region->byte_size());
  }
  if (!name.empty() && response.regions().empty()) {
    return absl::NotFoundError(
        absl::StrCat("no shared memory region named '", name, "' is registered"));
  }
  return response;
}

absl::StatusOr<std::optional<SharedMemoryRef>> SharedMemoryRegistry::Resolve(
    const google::protobuf::Map<std::string, InferParameter>& parameters,
    const std::string& tensor) const {
  auto region_param = parameters.find(kSharedMemoryRegion);
  auto size_param = parameters.find(kSharedMemoryByteSize);
  auto offset_param = parameters.find(kSharedMemoryOffset);
  if (region_param == parameters.end()) {
    if (size_param != parameters.end() || offset_param != parameters.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(tensor,
                       " has shared_memory_byte_size or shared_memory_offset but no "
                       "shared_memory_region"));
    }
    return std::optional<SharedMemoryRef>();
  }
  if (absl::Status enabled = CheckEnabled(); !enabled.ok()) return enabled;
  if (region_param->second.parameter_choice_case() != InferParameter::kStringParam) {
    return absl::InvalidArgumentError(
        absl::StrCat(tensor, ": shared_memory_region must be a string"));
  }
  if (size_param == parameters.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(tensor, " has shared_memory_region but no shared_memory_byte_size"));
  }
  SharedMemoryRef ref;
  absl::StatusOr<uint64_t> size =
      ByteCount(size_param->second, absl::StrCat(tensor, ": shared_memory_byte_size"));
  if (!size.ok()) return size.status();
  ref.byte_size = *size;
  if (offset_param != parameters.end()) {
    absl::StatusOr<uint64_t> offset =
        ByteCount(offset_param->second, absl::StrCat(tensor, ": shared_memory_offset"));
    if (!offset.ok()) return offset.status();
    ref.offset = *offset;
  }
  const std::string& name = region_param->second.string_param();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = regions_.find(name);
    if (it == regions_.end()) {
      return absl::NotFoundError(
          absl::StrCat(tensor, ": no shared memory region named '", name, "' is registered"));
    }
    ref.region = it->second;
  }
  if (!Fits(ref.offset, ref.byte_size, ref.region->byte_size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        tensor, ": ", ref.byte_size, " bytes at offset ", ref.offset,
        " do not fit in shared memory region '", name, "' of ", ref.region->byte_size(), " bytes"));
  }
  return std::optional<SharedMemoryRef>(std::move(ref));
}

}  // namespace convd
