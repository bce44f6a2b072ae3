// The waiting policy of syncstream: spin while an answer is likely soon and
// the core is ours, then sleep (futex, condition variable, poll), always
// with a deadline. Shared by the queue's readers, the manager's server and
// clients, and whatever else waits on another party.
//
// Spinning only pays when the other party answers within microseconds and
// has a core to answer on. Three mechanisms decide when to spin:
//  - SpinPolicy, one per waiter, learns how long its waits last and whether
//    spinning works; it says how long the next wait may spin;
//  - MachineHasIdleCores() says whether the machine has a core to spare:
//    no when more threads are runnable than there are cores, or when a
//    spinner of this process was preempted in the last 20 ms;
//  - SpinGate bounds how many threads of a process spin at once.
// SpinUntil() is the spin loop itself: it gives up as soon as it sees that
// it was preempted (the machine is oversubscribed: spinning would only take
// the CPU from the party it waits for) and tells MachineHasIdleCores().
// Lock waiters with no sleep of their own use Backoff
// (internal/spin_lock.h), which pauses, then yields only while the machine
// has idle cores, then sleeps.
#ifndef SYNCSTREAM_CORE_SPIN_WAIT_H_
#define SYNCSTREAM_CORE_SPIN_WAIT_H_

#include <time.h>

#include <atomic>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace syncstream {

// Decides how long each wait of one waiter may spin. A waiter asks
// NextSpin() before it waits and tells Record() how the wait went:
// - it spins only while the average of its recent waits (spun or slept) is
//   below `limit`, so a waiter on a contended lock or an idle stream sleeps
//   right away, and spins again once its waits are short again;
// - a spin that ends without the awaited event stops spinning for the next
//   2, 4, ... 1024 waits; a spin that gets it resets that.
// Thread safety: not thread-safe; one per waiting thread (or guarded by the
// caller).
class SpinPolicy {
 public:
  // Spins at most `limit` per wait; ZeroDuration() never spins.
  explicit SpinPolicy(absl::Duration limit);

  // How long the next wait may spin before it sleeps (a wait that asked
  // must then call Record).
  absl::Duration NextSpin();
  // The wait lasted `waited` (from its start to the event); it spun for
  // `spin` (what NextSpin said) and `spin_failed` when the event did not
  // come while it spun.
  void Record(absl::Duration waited, absl::Duration spin, bool spin_failed);

 private:
  const int64_t limit_ns_;
  int64_t average_ns_ = 0;  // of recent waits; weight 1/4 for the newest
  int backoff_level_ = 0;   // failed spins in a row (capped)
  int64_t skip_ = 0;        // waits left to sleep without spinning
};

// Bounds how many threads of a process spin at the same time, and lets
// none spin while !MachineHasIdleCores(), so that a server with many busy
// connections does not spin on every core and starve the clients it waits
// for. Thread safety: thread-safe.
class SpinGate {
 public:
  explicit SpinGate(int max_spinners) : max_(max_spinners) {}
  // May one more thread spin now? If true, call Leave() after spinning.
  bool Enter();
  void Leave() { spinners_.fetch_sub(1, std::memory_order_relaxed); }
  // Half the machine's cores, at least one.
  static int DefaultMax();
  // A process-wide gate with DefaultMax() places.
  static SpinGate& Default();

 private:
  const int max_;
  std::atomic<int> spinners_{0};
};

// Whether spinning may pay on this machine now: its runnable threads (the
// "running" count of /proc/loadavg, re-read at most every 5 ms) are no more
// than its cores, and no spinner of this process was preempted in the last
// 20 ms (NoteSpinnerPreempted). False when /proc/loadavg cannot be read.
// Thread-safe.
bool MachineHasIdleCores();

// Called by a spin loop that found it was preempted while spinning.
// Thread-safe.
void NoteSpinnerPreempted();

// The runnable threads in the text of /proc/loadavg ("R" of its "R/T"
// field: "0.52 0.58 0.59 3/815 12345" -> 3); -1 if it does not parse.
int ParseRunnableThreads(absl::string_view loadavg);

// A gap of at least this much between two polls of a spin loop means the
// spinner was preempted (or its virtual CPU descheduled).
inline constexpr absl::Duration kSpinnerPreemptedGap = absl::Microseconds(50);

namespace spin_wait_internal {
inline int64_t MonotonicNs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}
}  // namespace spin_wait_internal

// One iteration's pause of a spin loop: tells the CPU that this is a spin
// (it frees resources for the other hyperthread and avoids a misspeculation
// penalty on exit).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `ready()` (a cheap check, no side effects when false) until it
// returns true (returns true) or `spin` has passed, or the spinner was
// preempted (returns false; NoteSpinnerPreempted() was called). The caller
// sleeps after a false return. A `spin` of zero or less polls once.
template <typename Ready>
bool SpinUntil(absl::Duration spin, Ready&& ready) {
  if (ready()) return true;
  if (spin <= absl::ZeroDuration()) return false;
  const int64_t gap_ns = absl::ToInt64Nanoseconds(kSpinnerPreemptedGap);
  int64_t last = spin_wait_internal::MonotonicNs();
  const int64_t end = last + absl::ToInt64Nanoseconds(spin);
  for (int round = 1;; ++round) {
    CpuRelax();
    if (ready()) return true;
    if (round % 8 != 0) continue;  // the clock costs more than a poll
    const int64_t now = spin_wait_internal::MonotonicNs();
    if (now - last >= gap_ns) {
      NoteSpinnerPreempted();
      return false;
    }
    if (now >= end) return false;
    last = now;
  }
}

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_SPIN_WAIT_H_
