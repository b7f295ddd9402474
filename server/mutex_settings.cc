#include "server/mutex_settings.h"

#include "absl/synchronization/mutex.h"

namespace convd {

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace convd
