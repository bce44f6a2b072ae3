#include "syncstream/core/futex.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

#include "syncstream/core/deadline.h"

namespace syncstream {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t),
              "futex words must be plain 32-bit words");

FutexWaitResult FutexWait(std::atomic<uint32_t>* word, uint32_t expected,
                          absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) {
    return word->load(std::memory_order_acquire) == expected
               ? FutexWaitResult::kTimedOut
               : FutexWaitResult::kValueChanged;
  }
  struct timespec relative;
  struct timespec* relative_ptr = nullptr;
  if (timeout != absl::InfiniteDuration()) {
    relative = ToRelativeTimespec(timeout);
    relative_ptr = &relative;
  }
  // FUTEX_WAIT without FUTEX_PRIVATE_FLAG: the word may be shared between
  // processes.
  long rc = syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT,
                    expected, relative_ptr, nullptr, 0);
  if (rc == 0) return FutexWaitResult::kWoken;
  switch (errno) {
    case EAGAIN:
      return FutexWaitResult::kValueChanged;
    case ETIMEDOUT:
      return FutexWaitResult::kTimedOut;
    case EINTR:
      return FutexWaitResult::kInterrupted;
    default:
      return FutexWaitResult::kWoken;  // treat as spurious; callers re-check
  }
}

int FutexWake(std::atomic<uint32_t>* word, int count) {
  long rc = syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE,
                    count, nullptr, nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

}  // namespace syncstream
