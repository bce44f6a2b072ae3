// TscWallClock: wall-clock time (CLOCK_REALTIME) computed from TSC readings,
// cheaper than a clock_gettime per call. Not a public API.
//
// The clock anchors itself to CLOCK_REALTIME at least every kAnchorEveryNs
// and extrapolates with the TSC in between, at the rate measured between
// its last two anchors; so a time is within a few microseconds of
// CLOCK_REALTIME, and a step of the system clock shows within a
// millisecond. An anchor read that was interrupted (preemption between the
// TSC reads around it), a TSC or clock that went backwards, or an
// implausible rate falls back to clock_gettime until two good anchors exist
// again (the first half millisecond of a clock's life is such a time).
//
// Two uses: NanosAt(tsc) gives the time of a TSC reading the caller took
// anyway (a record's order key, order_clock.h: one clock read serves both),
// and NowNs() reads the TSC itself (the queue's message timestamps). The
// TSC is used only where TscIsSystemClock() (tsc.h): the counters of all
// CPUs agree, so a thread may migrate between readings. Elsewhere NowNs()
// is a clock_gettime and NanosAt() must not be called.
//
// Not thread-safe: each writer owns one and uses it under its own lock.
#ifndef SYNCSTREAM_CORE_INTERNAL_TSC_WALL_CLOCK_H_
#define SYNCSTREAM_CORE_INTERNAL_TSC_WALL_CLOCK_H_

#include <time.h>

#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "syncstream/core/internal/tsc.h"

namespace syncstream {
namespace internal {

class TscWallClock {
 public:
  // Whether NanosAt() may be called (the TSC is a system-wide clock here).
  static bool Usable() { return TscIsSystemClock(); }

  // Unix time in nanoseconds at the moment the TSC read `tsc`: a reading
  // the caller took just before (on any CPU), no earlier than the reading
  // of its previous call. Only where Usable().
  int64_t NanosAt(uint64_t tsc) {
    const uint64_t ticks = tsc - anchor_tsc_;
    if (scale_ != 0 && ticks < anchor_every_ticks_) {
      // ticks < ~1 ms of ticks and scale_ <= 20 << 32: no overflow.
      return anchor_ns_ + static_cast<int64_t>((ticks * scale_) >> 32);
    }
    return Anchor();
  }

  // Unix time in nanoseconds now.
  int64_t NowNs() {
#if defined(__x86_64__)
    if (usable_) return NanosAt(__rdtsc());
#endif
    return RealtimeNs();
  }

  static int64_t RealtimeNs() {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
  }

 private:
  static constexpr int64_t kAnchorEveryNs = 1'000'000;  // 1 ms

  // Reads CLOCK_REALTIME between two TSC reads and returns it; when the
  // pair is tight, derives the TSC rate from the previous anchor and moves
  // the anchor here.
  int64_t Anchor();

  bool usable_ = Usable();
  uint64_t anchor_tsc_ = 0;
  int64_t anchor_ns_ = 0;
  bool anchored_ = false;
  uint64_t scale_ = 0;  // nanoseconds per tick, 32.32 fixed point; 0: unknown
  uint64_t anchor_every_ticks_ = 0;
};

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_TSC_WALL_CLOCK_H_
