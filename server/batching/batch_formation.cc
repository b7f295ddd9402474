#include "server/batching/batch_formation.h"

#include <algorithm>

namespace convd {

BatchDecision NextBatch(absl::Span<const int> rows, TimePoint oldest_enqueued, TimePoint now,
                        const BatchingPolicy& policy, bool requests_come_alone) {
  BatchDecision decision;
  if (rows.empty()) return decision;
  if (!policy.dynamic) {
    decision.take = 1;
    return decision;
  }
  int fit = 0;
  int fit_rows = 0;
  int preferred_take = 0;
  while (fit < static_cast<int>(rows.size()) && fit_rows + rows[fit] <= policy.max_batch_size) {
    fit_rows += rows[fit];
    ++fit;
    if (std::binary_search(policy.preferred_batch_sizes.begin(), policy.preferred_batch_sizes.end(),
                           fit_rows)) {
      preferred_take = fit;
    }
  }
  // A request never exceeds max_batch_size, so at least one always fits.
  const bool full = fit_rows == policy.max_batch_size;
  const bool blocked = fit < static_cast<int>(rows.size());
  const TimePoint deadline = oldest_enqueued + policy.max_queue_delay;
  const bool waiting_is_futile = requests_come_alone && !policy.strict_queue_delay;
  if (full || blocked || now >= deadline || waiting_is_futile) {
    decision.take = fit;
  } else if (preferred_take > 0) {
    decision.take = preferred_take;
  } else {
    decision.wait_until = deadline;
  }
  return decision;
}

}  // namespace convd
