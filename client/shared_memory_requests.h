// convload --shared-memory=system: the load's requests with their inputs in
// POSIX shared memory and their outputs directed to it, as perf_analyzer
// --shared-memory=system sends them. One object holds every distinct
// request's input; one output region is shared by all clients (convload
// never reads outputs, so concurrent writes to it do not matter). Both are
// registered with the server, which must run on this host with
// --allow-client-shm.
#ifndef CONVD_CLIENT_SHARED_MEMORY_REQUESTS_H_
#define CONVD_CLIENT_SHARED_MEMORY_REQUESTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client.h"
#include "proto/inference.pb.h"

namespace convd::client {

class SharedMemoryRequests {
 public:
  // Moves each request's raw input into a new shared-memory object,
  // registers it and an output region of `output_bytes` (one response's
  // output) through `client`, and rewrites `requests` to name them.
  // `client` must outlive the returned object. `tag` keeps names unique
  // among this process's instances.
  static absl::StatusOr<std::unique_ptr<SharedMemoryRequests>> Create(
      Client& client, const std::string& tag, const std::string& output_name, uint64_t output_bytes,
      std::vector<inference::ModelInferRequest>& requests);
  // Unregisters both regions and unlinks the objects.
  ~SharedMemoryRequests();
  SharedMemoryRequests(const SharedMemoryRequests&) = delete;
  SharedMemoryRequests& operator=(const SharedMemoryRequests&) = delete;

 private:
  explicit SharedMemoryRequests(Client& client) : client_(client) {}
  absl::Status CreateObject(const std::string& key, const std::string& bytes);

  Client& client_;
  std::vector<std::string> keys_;     // objects created, to unlink
  std::vector<std::string> regions_;  // regions registered, to unregister
};

}  // namespace convd::client

#endif  // CONVD_CLIENT_SHARED_MEMORY_REQUESTS_H_
