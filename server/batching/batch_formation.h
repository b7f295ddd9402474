// Dynamic batch formation as a pure function of the queue and the time, so
// it is tested with a fake clock (batch_formation_test.cc) and the
// scheduler only applies its decisions.
//
// Rules, for the requests at the front of the queue in the order they run
// (priority level, then arrival):
//  - without dynamic batching every request runs alone;
//  - the batch takes whole requests while their rows fit max_batch_size;
//  - it runs at once when it is full, when the next request cannot join
//    it, or when its rows equal a preferred batch size (the largest such
//    prefix is taken);
//  - otherwise it runs when the oldest of those requests has waited
//    max_queue_delay, and until then the caller waits (wait_until);
//  - unless the delay is strict, it also runs at once while requests come
//    alone (CompanyForecast): no request then pays a delay for company
//    that would not come.
#ifndef CONVD_SERVER_BATCHING_BATCH_FORMATION_H_
#define CONVD_SERVER_BATCHING_BATCH_FORMATION_H_

#include <chrono>
#include <vector>

#include "absl/types/span.h"

namespace convd {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

struct BatchingPolicy {
  // Rows (images) one execution may hold; at least 1.
  int max_batch_size = 1;
  // Ascending; sizes a batch runs at as soon as it reaches one.
  std::vector<int> preferred_batch_sizes;
  // How long the oldest request may wait for more to join its batch.
  std::chrono::microseconds max_queue_delay{0};
  // False: each request is its own batch (no dynamic_batching in the config).
  bool dynamic = true;
  // True: always wait out max_queue_delay for company (Triton's rule),
  // even while requests come alone.
  bool strict_queue_delay = false;
};

// Whether requests have lately been arriving to find others already
// queued or running: an exponentially weighted fraction of arrivals, weight
// 1/8 on the newest. When it is low, requests come alone (one client at a
// time, or light load) and waiting for company would only add latency;
// under load arrivals overlap, and batching pays. The count starts as if
// every arrival had company, so a freshly loaded model batches as
// configured, and a client that sends one request at a time stops waiting
// after about a dozen. Not thread-safe: the scheduler holds its lock.
class CompanyForecast {
 public:
  void Record(bool found_company) { fraction_ += ((found_company ? 1.0 : 0.0) - fraction_) / 8; }
  bool RequestsComeAlone() const { return fraction_ < 0.25; }

 private:
  double fraction_ = 1.0;
};

struct BatchDecision {
  // Requests to take from the front of the queue now; 0: wait.
  int take = 0;
  // When take is 0: the time at which the decision may change without a
  // new arrival (the oldest request's delay running out).
  TimePoint wait_until = TimePoint::max();
};

// `rows` holds the batch rows of the queued requests, front first (callers
// may pass only the first max_batch_size + 1 entries); every entry is in
// [1, max_batch_size]. `oldest_enqueued` is the earliest arrival among
// them.
// `requests_come_alone` is CompanyForecast::RequestsComeAlone().
BatchDecision NextBatch(absl::Span<const int> rows, TimePoint oldest_enqueued, TimePoint now,
                        const BatchingPolicy& policy, bool requests_come_alone = false);

}  // namespace convd

#endif  // CONVD_SERVER_BATCHING_BATCH_FORMATION_H_
