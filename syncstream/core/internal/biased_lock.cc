#include "syncstream/core/internal/biased_lock.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__SANITIZE_THREAD__)
#define SYNCSTREAM_BIASED_LOCK_USES_SPIN_LOCK 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SYNCSTREAM_BIASED_LOCK_USES_SPIN_LOCK 1
#endif
#endif

namespace syncstream {
namespace internal {
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
#if defined(SYNCSTREAM_BIASED_LOCK_USES_SPIN_LOCK)
  return false;
#else
  // Only asks whether the kernel has the command: the first other side to
  // need the barrier registers (ProcessWideBarrier), so that the first
  // write of a process does not wait for the registration (about 10 ms).
  const int commands = Membarrier(MEMBARRIER_CMD_QUERY);
  return commands >= 0 && (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0;
#endif
}

void BiasedLock::LockAsOther() {
  spin_lock_.lock();
  if (!Biased()) return;
  others_.store(true, std::memory_order_seq_cst);
  ProcessWideBarrier();
  for (Backoff backoff; owner_inside_.load(std::memory_order_acquire);
       backoff.Pause()) {
  }
}

void BiasedLock::UnlockAsOther() {
  if (Biased()) others_.store(false, std::memory_order_release);
  spin_lock_.unlock();
}

}  // namespace internal
}  // namespace syncstream
