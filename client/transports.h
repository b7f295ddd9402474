// The two Client implementations; CreateClient (client.h) picks by URL.
#ifndef CONVD_CLIENT_TRANSPORTS_H_
#define CONVD_CLIENT_TRANSPORTS_H_

#include <memory>

#include "client/client.h"

namespace convd::client {

std::unique_ptr<Client> CreateGrpcClient(const ServerUrl& url, const ClientOptions& options);
std::unique_ptr<Client> CreateHttpClient(const ServerUrl& url, const ClientOptions& options);

}  // namespace convd::client

#endif  // CONVD_CLIENT_TRANSPORTS_H_
