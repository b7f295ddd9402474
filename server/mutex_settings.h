// Abseil mutex settings for the programs that serve or load-test over
// gRPC, whose core locks absl::Mutex objects on every call.
#ifndef CONVD_SERVER_MUTEX_SETTINGS_H_
#define CONVD_SERVER_MUTEX_SETTINGS_H_

namespace convd {

// Turns off absl::Mutex's deadlock detector for the whole process.
// Debian builds its Abseil without NDEBUG, so the detector, a debugging
// aid, runs in every program linked against it, in its debug-build mode:
// on a lock-order cycle it has only inferred (two mutexes once taken in
// each order, not a deadlock) it aborts the process. gRPC's own locking
// trips it: reports of clients and servers aborted that way are
// grpc/grpc#37982, #39461 and #40390. A server must not die of a
// diagnostic. (It also takes a process-wide lock on every acquisition; on
// the 2-core VM that cost was within the noise: bench/RESULTS.md.)
// convd's own locks are std::mutex, which the detector never saw.
// Call first thing in main, before any thread starts.
void DisableMutexDeadlockDetection();

}  // namespace convd

#endif  // CONVD_SERVER_MUTEX_SETTINGS_H_
