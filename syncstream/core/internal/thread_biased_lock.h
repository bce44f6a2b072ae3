// ThreadBiasedLock: a BiasedLock (biased_lock.h) whose owner side belongs
// to one thread, named by its ThisThreadToken(). Guard takes it as owner on
// that thread (plain loads and stores) and as an other on every other
// thread. For state that one thread uses on a hot path and other threads
// may use too: a LineProcMirror's batch, a queue participant's appends.
//
// The owner is named with SetOwnerToThisThread() and must not move from a
// thread that may still take the lock: name it once, before other threads
// use the lock or while holding it in a process whose only thread is the
// caller (a forked child). Until it is named every thread is an other.
// Not a public API.
#ifndef SYNCSTREAM_CORE_INTERNAL_THREAD_BIASED_LOCK_H_
#define SYNCSTREAM_CORE_INTERNAL_THREAD_BIASED_LOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "syncstream/core/internal/biased_lock.h"
#include "syncstream/core/internal/thread_token.h"

namespace syncstream {
namespace internal {

class ABSL_LOCKABLE ThreadBiasedLock {
 public:
  // See BiasedLock's "Revocation"; 0: never revoked.
  explicit ThreadBiasedLock(uint32_t revoke_after) : lock_(revoke_after) {}
  ThreadBiasedLock(const ThreadBiasedLock&) = delete;
  ThreadBiasedLock& operator=(const ThreadBiasedLock&) = delete;

  void SetOwnerToThisThread() {
    owner_thread_.store(ThisThreadToken(), std::memory_order_relaxed);
  }

  // The underlying lock, for TryLockAsOther() by threads that never wait.
  BiasedLock& lock() { return lock_; }

  // Holds the lock, as owner on the owner's thread, as other elsewhere.
  class ABSL_SCOPED_LOCKABLE Guard {
   public:
    __attribute__((always_inline)) explicit Guard(ThreadBiasedLock& lock)
        ABSL_EXCLUSIVE_LOCK_FUNCTION(lock) ABSL_NO_THREAD_SAFETY_ANALYSIS
        : lock_(lock.lock_),
          owner_(lock.owner_thread_.load(std::memory_order_relaxed) == ThisThreadToken()) {
      if (owner_) {
        lock_.LockAsOwner();
      } else {
        lock_.LockAsOther();
      }
    }
    __attribute__((always_inline)) ~Guard() ABSL_UNLOCK_FUNCTION() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      if (owner_) {
        lock_.UnlockAsOwner();
      } else {
        lock_.UnlockAsOther();
      }
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    BiasedLock& lock_;
    const bool owner_;
  };

 private:
  BiasedLock lock_;
  // ThisThreadToken() of the owner; 0: none. Read without the lock: a
  // stale read can only say "not the owner".
  std::atomic<uint64_t> owner_thread_{0};
};

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_THREAD_BIASED_LOCK_H_
