#include "client/shared_memory_requests.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/core/shared_memory_parameters.h"

namespace convd::client {
absl::Status SharedMemoryRequests::CreateObject(const std::string& key, const std::string& bytes) {
  const int fd = shm_open(key.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create shared memory object ", key, ": ", std::strerror(errno)));
  }
  keys_.push_back(key);
  size_t done = 0;
  bool ok = ftruncate(fd, static_cast<off_t>(bytes.size())) == 0;
  while (ok && done < bytes.size()) {
    const ssize_t n =
        pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    ok = n > 0 || (n < 0 && errno == EINTR);
    if (n > 0) done += static_cast<size_t>(n);
  }
  const int error = errno;
  close(fd);
  if (!ok) {
    return absl::InternalError(
        absl::StrCat("cannot fill shared memory object ", key, ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SharedMemoryRequests>> SharedMemoryRequests::Create(
    Client& client, const std::string& tag, const std::string& output_name, uint64_t output_bytes,
    std::vector<inference::ModelInferRequest>& requests) {
  std::unique_ptr<SharedMemoryRequests> shm(new SharedMemoryRequests(client));
  const std::string prefix = absl::StrCat("convload_", getpid(), "_", tag);
  std::string inputs;
  std::vector<uint64_t> offsets;
  for (const auto& request : requests) {
    if (request.raw_input_contents_size() != 1) {
      return absl::InvalidArgumentError("shared memory needs one raw input per request");
    }
    offsets.push_back(inputs.size());
    inputs += request.raw_input_contents(0);
  }
  const std::string input_region = prefix + "_in", output_region = prefix + "_out";
  if (absl::Status s = shm->CreateObject("/" + input_region, inputs); !s.ok()) return s;
  if (absl::Status s = shm->CreateObject("/" + output_region, std::string(output_bytes, '\0'));
      !s.ok()) {
    return s;
  }
  for (const auto& [region, bytes] :
       {std::pair{input_region, uint64_t{inputs.size()}}, std::pair{output_region, output_bytes}}) {
    if (absl::Status s = client.RegisterSystemSharedMemory(region, "/" + region, 0, bytes);
        !s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("registering shared memory with the server: ", s.message()));
    }
    shm->regions_.push_back(region);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    inference::ModelInferRequest& request = requests[i];
    const uint64_t size = request.raw_input_contents(0).size();
    request.clear_raw_input_contents();
    SetSharedMemory(*request.mutable_inputs(0)->mutable_parameters(), input_region, size,
                    offsets[i]);
    request.clear_outputs();
    auto* output = request.add_outputs();
    output->set_name(output_name);
    SetSharedMemory(*output->mutable_parameters(), output_region, output_bytes);
  }
  return shm;
}

SharedMemoryRequests::~SharedMemoryRequests() {
  for (const std::string& region : regions_) {
    client_.UnregisterSystemSharedMemory(region).IgnoreError();  // the server may be gone
  }
  for (const std::string& key : keys_) shm_unlink(key.c_str());
}

}  // namespace convd::client
