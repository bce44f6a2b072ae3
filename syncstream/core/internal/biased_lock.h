// BiasedLock: a lock that one party, the owner, takes on a hot path and
// other threads take rarely: a LineWriter's per-writer state, taken by its
// writing thread on every Write() and by CloseAllWriters()/PendingLines()
// from other threads once in a while.
//
// The owner takes and releases it with plain stores and loads, no atomic
// read-modify-write. The others pay instead: an other announces itself, then
// issues a process-wide memory barrier (membarrier(2),
// MEMBARRIER_CMD_PRIVATE_EXPEDITED); afterwards either the owner sees the
// announcement (and waits for the other) or the other sees that the owner is
// inside (and waits for it to leave). This is the asymmetric form of
// Dekker's mutual exclusion.
//
// Where membarrier is unavailable (an old kernel, a seccomp filter) and
// under ThreadSanitizer (which cannot see the barrier), both sides take one
// SpinLock instead. The first other to take any BiasedLock registers the
// process for the barrier (about 10 ms, once per process and forked child).
//
// The owner side may be used by one thread at a time; it may pass from
// thread to thread with synchronization of its own (a join, a mutex).
// Others may be any number of threads. Not reentrant.
//
// Revocation: a lock made with BiasedLock(revoke_after) stops being biased
// after `revoke_after` blocking entries of others (LockAsOther; TryLockAsOther
// does not count): from then on the owner takes the spin lock too, and others
// skip the barrier. For a lock whose owner is a guess (the first thread to
// write a mirror), so that a process where other threads write a lot pays one
// atomic exchange per entry, as with a plain spin lock, instead of a
// process-wide barrier.
#ifndef SYNCSTREAM_CORE_INTERNAL_BIASED_LOCK_H_
#define SYNCSTREAM_CORE_INTERNAL_BIASED_LOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "syncstream/core/internal/spin_lock.h"

namespace syncstream {
namespace internal {

class ABSL_LOCKABLE BiasedLock {
 public:
  BiasedLock() = default;
  // See "Revocation" above; 0: never.
  explicit BiasedLock(uint32_t revoke_after) : revoke_after_(revoke_after) {}
  BiasedLock(const BiasedLock&) = delete;
  BiasedLock& operator=(const BiasedLock&) = delete;

  // Inline: it is a few instructions on every write.
  __attribute__((always_inline)) void LockAsOwner()
      ABSL_EXCLUSIVE_LOCK_FUNCTION() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (!Biased()) {
      LockAsOwnerSlow();
      return;
    }
    owner_inside_.store(true, std::memory_order_relaxed);
    // Keeps the compiler from moving the load above the store; the other
    // side's membarrier supplies the processor's barrier.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (others_.load(std::memory_order_acquire)) {
      owner_inside_.store(false, std::memory_order_release);
      LockAsOwnerSlow();
    }
  }
  __attribute__((always_inline)) void UnlockAsOwner()
      ABSL_UNLOCK_FUNCTION() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (owner_has_spin_lock_) {
      owner_has_spin_lock_ = false;
      spin_lock_.unlock();
    } else {
      owner_inside_.store(false, std::memory_order_release);
    }
  }

  void LockAsOther() ABSL_EXCLUSIVE_LOCK_FUNCTION() ABSL_NO_THREAD_SAFETY_ANALYSIS;
  // LockAsOther if neither an other nor the owner is inside; never waits
  // (beyond the barrier).
  bool TryLockAsOther() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true)
      ABSL_NO_THREAD_SAFETY_ANALYSIS;
  void UnlockAsOther() ABSL_UNLOCK_FUNCTION() ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // Whether owners take the lock without a read-modify-write in this
  // process (false: everyone takes the spin lock). Decided once.
  // Tells the thread-safety analysis that the caller holds the lock (in a
  // callback run under it). Checks nothing at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

  static bool Biased() {
    static const bool biased = DetectBiased();
    return biased;
  }

  // std::lock_guard-style holders of each side.
  class ABSL_SCOPED_LOCKABLE OwnerGuard {
   public:
    explicit OwnerGuard(BiasedLock& lock) ABSL_EXCLUSIVE_LOCK_FUNCTION(lock) : lock_(lock) {
      lock_.LockAsOwner();
    }
    ~OwnerGuard() ABSL_UNLOCK_FUNCTION() { lock_.UnlockAsOwner(); }
    OwnerGuard(const OwnerGuard&) = delete;
    OwnerGuard& operator=(const OwnerGuard&) = delete;

   private:
    BiasedLock& lock_;
  };
  class ABSL_SCOPED_LOCKABLE OtherGuard {
   public:
    explicit OtherGuard(BiasedLock& lock) ABSL_EXCLUSIVE_LOCK_FUNCTION(lock) : lock_(lock) {
      lock_.LockAsOther();
    }
    ~OtherGuard() ABSL_UNLOCK_FUNCTION() { lock_.UnlockAsOther(); }
    OtherGuard(const OtherGuard&) = delete;
    OtherGuard& operator=(const OtherGuard&) = delete;

   private:
    BiasedLock& lock_;
  };

 private:
  static bool DetectBiased();
  void LockAsOwnerSlow() ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // Held by an other for its whole critical section (and so serializing
  // the others), and by the owner when an other was there first.
  SpinLock spin_lock_;
  // Set by an other holding spin_lock_ while it waits for or is in its
  // critical section.
  std::atomic<bool> others_{false};
  // Set by the owner while in its critical section on the biased path.
  std::atomic<bool> owner_inside_{false};
  // The owner's own note that it took spin_lock_ (touched by the owner
  // only).
  bool owner_has_spin_lock_ = false;
  // Revocation (under spin_lock_): once revoked, others_ stays set.
  const uint32_t revoke_after_ = 0;
  uint32_t other_entries_ ABSL_GUARDED_BY(spin_lock_) = 0;
  bool revoked_ ABSL_GUARDED_BY(spin_lock_) = false;
};

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_BIASED_LOCK_H_
