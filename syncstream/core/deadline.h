// Timeouts and deadlines. Every blocking call in syncstream takes an
// absl::Duration timeout: absl::ZeroDuration() means "do not wait",
// absl::InfiniteDuration() means "wait forever" (an explicit request).
#ifndef SYNCSTREAM_CORE_DEADLINE_H_
#define SYNCSTREAM_CORE_DEADLINE_H_

#include <time.h>

#include <condition_variable>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace syncstream {

// The current wall-clock time. Use this, not absl::Now(): Abseil's clock
// takes a process-wide spin lock on its slow path, and a child forked while
// another thread held that lock spins forever in its first absl::Now().
// syncstream forks (mirrors in forked children, fork-mode workers), so every
// clock read in the project goes through clock_gettime, which takes no lock.
inline absl::Time Now() {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return absl::TimeFromTimespec(now);
}

// The absolute deadline `timeout` from now; InfiniteFuture for an infinite or
// overflowing timeout, now for a zero or negative one.
inline absl::Time DeadlineAfter(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return absl::InfiniteFuture();
  if (timeout <= absl::ZeroDuration()) return Now();
  return Now() + timeout;
}

// Time left until `deadline` (zero once passed; infinite for InfiniteFuture).
inline absl::Duration TimeLeft(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return absl::InfiniteDuration();
  absl::Duration left = deadline - Now();
  return left < absl::ZeroDuration() ? absl::ZeroDuration() : left;
}

// A relative timespec for futex/ppoll-style calls, capped so that it never
// overflows; nullptr-style "forever" is the caller's job (check IsInfinite).
inline struct timespec ToRelativeTimespec(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  if (d > absl::Hours(24 * 365)) d = absl::Hours(24 * 365);
  return absl::ToTimespec(d);
}

// One wait on condition variable `cv` (std::condition_variable with a
// std::unique_lock<std::mutex>, or std::condition_variable_any with any
// lock), with `lock` held: until a notification, a spurious wake-up, or
// `deadline`. absl::InfiniteFuture() is a plain wait with no time limit
// (not a timed wait for the far end of the clock). Returns false when the
// wait ended because `deadline` passed. For loops that look at several
// things between wake-ups; WaitUntilReady below is the usual form.
template <typename CondVar, typename Lock>
bool WaitOnce(CondVar& cv, Lock& lock, absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) {
    cv.wait(lock);
    return true;
  }
  return cv.wait_until(lock, absl::ToChronoTime(deadline)) == std::cv_status::no_timeout;
}

// Waits on `cv`, with `lock` held, until `ready()` or `deadline` (as
// WaitOnce). ready() is evaluated with the lock held, first and after every
// wake-up, as std::condition_variable::wait(lock, pred) does. Returns its
// last value: false only when the deadline passed with it false.
template <typename CondVar, typename Lock, typename Ready>
bool WaitUntilReady(CondVar& cv, Lock& lock, absl::Time deadline, Ready ready) {
  while (!ready()) {
    if (!WaitOnce(cv, lock, deadline)) return ready();
  }
  return true;
}

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_DEADLINE_H_
