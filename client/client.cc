#include "client/client.h"

#include "client/transports.h"

namespace convd::client {

std::unique_ptr<Client> CreateClient(const ServerUrl& url, const ClientOptions& options) {
  return url.protocol == Protocol::kGrpc ? CreateGrpcClient(url, options)
                                         : CreateHttpClient(url, options);
}

uint64_t ComputeNs(const inference::InferStatistics& stats) {
  return stats.compute_input().ns() + stats.compute_infer().ns() + stats.compute_output().ns();
}

}  // namespace convd::client
