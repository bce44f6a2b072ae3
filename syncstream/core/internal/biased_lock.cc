#include "syncstream/core/internal/biased_lock.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "syncstream/core/internal/sanitizers.h"

namespace syncstream {
namespace internal {

// Why biased: an atomic read-modify-write costs about a tenth of a whole
// LineBuffer write, and the owner takes this lock on every write, while the
// others (Close, PendingLines) take it rarely.
namespace {

int Membarrier(int command) {
  return static_cast<int>(syscall(SYS_membarrier, command, 0, 0));
}

// Needed once before the expedited barrier. Registration belongs to the
// address space: a forked child starts unregistered, and registering again
// is harmless.
bool RegisterProcess() {
  return Membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

// A full memory barrier on every CPU that runs a thread of this process.
void ProcessWideBarrier() {
  if (Membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
  if (errno == EPERM && RegisterProcess() &&
      Membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) {
    return;
  }
  // The kernel said it has the command, so owners are taking the lock
  // without a read-modify-write: going on without the barrier would let an
  // other in beside an owner.
  std::fprintf(stderr,
               "syncstream: biased lock: membarrier(PRIVATE_EXPEDITED) "
               "failed although the kernel offers it: %s\n",
               std::strerror(errno));
  std::abort();
}

}  // namespace

bool BiasedLock::DetectBiased() {
#if SYNCSTREAM_TSAN  // it does not see the barrier: a spin lock for everyone
  return false;
#else
  // Only asks whether the kernel has the command: the first other side to
  // need the barrier registers (ProcessWideBarrier), so that the first
  // write of a process does not wait for the registration (about 10 ms).
  const int commands = Membarrier(MEMBARRIER_CMD_QUERY);
  return commands >= 0 && (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0;
#endif
}

__attribute__((noinline)) void BiasedLock::LockAsOwnerSlow() {
  spin_lock_.lock();
  owner_has_spin_lock_ = true;
}

void BiasedLock::LockAsOther() {
  spin_lock_.lock();
  if (!Biased() || revoked_) return;
  others_.store(true, std::memory_order_seq_cst);
  ProcessWideBarrier();
  for (Backoff backoff; owner_inside_.load(std::memory_order_acquire);
       backoff.Pause()) {
  }
  if (revoke_after_ != 0 && ++other_entries_ >= revoke_after_) {
    // Revoked: others_ is never cleared again, so every owner entry from
    // now on (which sees it: it was set before the barrier) takes the spin
    // lock, and others need neither the barrier nor the wait.
    revoked_ = true;
  }
}

bool BiasedLock::TryLockAsOther() {
  if (!spin_lock_.try_lock()) return false;
  if (!Biased() || revoked_) return true;
  others_.store(true, std::memory_order_seq_cst);
  ProcessWideBarrier();
  if (owner_inside_.load(std::memory_order_acquire)) {
    others_.store(false, std::memory_order_release);
    spin_lock_.unlock();
    return false;
  }
  return true;
}

void BiasedLock::UnlockAsOther() {
  if (Biased() && !revoked_) others_.store(false, std::memory_order_release);
  spin_lock_.unlock();
}

}  // namespace internal
}  // namespace syncstream
