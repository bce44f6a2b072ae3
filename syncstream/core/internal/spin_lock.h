// SpinLock: a test-and-test-and-set lock for short, rarely contended critical
// sections on hot paths (one record copy; BiasedLock's shared side). Unlocking is a plain
// release store, so an uncontended lock/unlock pair costs one atomic
// exchange, against two for std::mutex. Waiters follow Backoff below, so a
// holder that was preempted, or that blocks for long (a mirror's Publish
// waiting on a full queue), does not make waiters burn a core. Satisfies
// BasicLockable (std::lock_guard); SpinLockGuard below is the annotated
// scoped form that the thread-safety analysis sees.
#ifndef SYNCSTREAM_CORE_INTERNAL_SPIN_LOCK_H_
#define SYNCSTREAM_CORE_INTERNAL_SPIN_LOCK_H_

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "syncstream/core/spin_wait.h"

namespace syncstream {
namespace internal {

// The waiting policy of a spin loop: call Pause() once per failed attempt.
// It spins briefly (the other party is usually running and about to finish),
// then yields (only while the machine has idle cores, core/spin_wait.h),
// then sleeps: when the other party was preempted, spinning or yielding
// would keep it from the CPU it needs (threads may outnumber cores;
// sched_yield gives little way under CFS), so waiters get out of its way.
class Backoff {
 public:
  void Pause() {
    ++attempts_;
    if (attempts_ <= 64) {
      CpuRelax();
    } else if (attempts_ <= 80 && MachineHasIdleCores()) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

 private:
  int attempts_ = 0;
};

class ABSL_LOCKABLE SpinLock {
 public:
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    for (Backoff backoff;; backoff.Pause()) {
      if (!locked_.load(std::memory_order_relaxed) &&
          !locked_.exchange(true, std::memory_order_acquire)) {
        return;
      }
    }
  }
  // Takes the lock if it is free; never waits.
  bool try_lock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() ABSL_UNLOCK_FUNCTION() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// Holds a SpinLock from construction to destruction.
class ABSL_SCOPED_LOCKABLE SpinLockGuard {
 public:
  explicit SpinLockGuard(SpinLock& lock) ABSL_EXCLUSIVE_LOCK_FUNCTION(lock) : lock_(lock) {
    lock_.lock();
  }
  ~SpinLockGuard() ABSL_UNLOCK_FUNCTION() { lock_.unlock(); }
  SpinLockGuard(const SpinLockGuard&) = delete;
  SpinLockGuard& operator=(const SpinLockGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_SPIN_LOCK_H_
