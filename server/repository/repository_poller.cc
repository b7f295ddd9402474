#include "server/repository/repository_poller.h"

namespace convd {

RepositoryPoller::RepositoryPoller(ModelRepository* repository, std::chrono::milliseconds interval)
    : repository_(repository), interval_(interval), thread_([this] { Run(); }) {}

RepositoryPoller::~RepositoryPoller() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void RepositoryPoller::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    // Timed from the end of the last poll, so that a slow load never makes
    // polls pile up.
    if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) return;
    lock.unlock();
    repository_->Poll();
    lock.lock();
  }
}

}  // namespace convd
