// --model-control=poll: a thread that calls ModelRepository::Poll() every
// interval, until destroyed.
//
// Contract: the first poll comes one interval after construction (the
// repository has just loaded everything). The destructor wakes the thread
// and joins it; a poll in progress (a load, say) finishes first. The
// repository must outlive the poller.
#ifndef CONVD_SERVER_REPOSITORY_REPOSITORY_POLLER_H_
#define CONVD_SERVER_REPOSITORY_REPOSITORY_POLLER_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/repository/repository.h"

namespace convd {

class RepositoryPoller {
 public:
  // `interval` must be positive.
  RepositoryPoller(ModelRepository* repository, std::chrono::milliseconds interval);
  ~RepositoryPoller();
  RepositoryPoller(const RepositoryPoller&) = delete;
  RepositoryPoller& operator=(const RepositoryPoller&) = delete;

 private:
  void Run();

  ModelRepository* const repository_;
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace convd

#endif  // CONVD_SERVER_REPOSITORY_REPOSITORY_POLLER_H_
