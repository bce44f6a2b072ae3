// Timeouts and deadlines. Every blocking call in syncstream takes an
// absl::Duration timeout: absl::ZeroDuration() means "do not wait",
// absl::InfiniteDuration() means "wait forever" (an explicit request).
#ifndef SYNCSTREAM_CORE_DEADLINE_H_
#define SYNCSTREAM_CORE_DEADLINE_H_

#include <time.h>

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

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_DEADLINE_H_
