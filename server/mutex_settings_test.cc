#include "server/mutex_settings.h"

#include <string>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace convd {
namespace {

// What the deadlock detector reports (to stderr, in kReport mode) when one
// thread takes two fresh mutexes in one order and then in the other: a
// lock-order inversion, which the detector flags though no second thread
// is there to deadlock.
std::string ReportOfALockOrderInversion() {
  absl::Mutex first;
  absl::Mutex second;
  testing::internal::CaptureStderr();
  {
    absl::MutexLock a(&first);
    absl::MutexLock b(&second);
  }
  {
    absl::MutexLock b(&second);
    absl::MutexLock a(&first);
  }
  return testing::internal::GetCapturedStderr();
}

TEST(DisableMutexDeadlockDetectionTest, TheDetectorNoLongerRuns) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kReport);
  if (ReportOfALockOrderInversion().find("Potential Mutex deadlock") == std::string::npos) {
    GTEST_SKIP() << "this Abseil was built with NDEBUG: its deadlock detector never runs";
  }
  DisableMutexDeadlockDetection();
  EXPECT_EQ(ReportOfALockOrderInversion(), "");
}

}  // namespace
}  // namespace convd
