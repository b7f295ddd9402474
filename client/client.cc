#include "client/client.h"

#include "client/transports.h"

namespace convd::client {

std::unique_ptr<Client> CreateClient(const ServerUrl& url, const ClientOptions& options) {
  return url.protocol == Protocol::kGrpc ? CreateGrpcClient(url, options)
                                         : CreateHttpClient(url, options);
}

}  // namespace convd::client
