// Dynamic batch formation as a pure function of the queue and the time, so
// it is tested with a fake clock (batch_formation_test.cc) and the
// scheduler only applies its decisions.
//
// Rules, for the requests at the front of the queue in arrival order:
//  - without dynamic batching every request runs alone;
//  - the batch takes whole requests while their rows fit max_batch_size;
//  - it runs at once when it is full, when the next request cannot join
//    it, or when its rows equal a preferred batch size (the largest such
//    prefix is taken);
//  - otherwise it runs when the oldest request has waited
//    max_queue_delay, and until then the caller waits (wait_until).
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
// [1, max_batch_size]. `oldest_enqueued` is the front request's arrival.
BatchDecision NextBatch(absl::Span<const int> rows, TimePoint oldest_enqueued, TimePoint now,
                        const BatchingPolicy& policy);

}  // namespace convd

#endif  // CONVD_SERVER_BATCHING_BATCH_FORMATION_H_
