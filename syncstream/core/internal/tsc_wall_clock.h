// TscWallClock: wall-clock time (CLOCK_REALTIME) for records and queue
// messages, from one cheap clock read. Not a public API.
//
// Contract: every time it returns lies within kMaxErrorNs (100 us) of
// CLOCK_REALTIME at the moment of the reading it converts, on every clock
// source the kernel may use (tsc, kvm-clock, hpet, xen, acpi_pm), as long as
// the system clock was not stepped in the last millisecond.
//
// Readings are the order keys of order_clock.h: TSC ticks where
// UsesTsc() (tsc.h), CLOCK_MONOTONIC nanoseconds elsewhere. The clock
// anchors itself to CLOCK_REALTIME at least every millisecond of readings
// and converts in between: TSC ticks at the rate observed between its last
// two anchors, monotonic nanoseconds by the offset between the two clocks
// (which only a step of the system clock changes). An anchor whose clock
// read was interrupted, a clock that went backwards, or an implausible rate
// make it read clock_gettime until two good anchors exist again (so the
// first half millisecond of a clock's life reads clock_gettime each time).
//
// Two uses: NanosAt(key) gives the time of an order key the caller read
// anyway (a record's key: one clock read serves both), and NowNs() reads
// the clock itself.
//
// Thread safety: not thread-safe; each writer owns one and uses it under its
// own lock.
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
  // The bound of the contract above.
  static constexpr int64_t kMaxErrorNs = 100'000;

  // Whether readings are TSC ticks (else CLOCK_MONOTONIC nanoseconds).
  static bool Usable() { return UsesTsc(); }

  // Unix time in nanoseconds at the moment of `key`, an order key
  // (order_clock.h) read by the caller just before, no earlier than the key
  // of its previous call.
  int64_t NanosAt(uint64_t key) {
    const uint64_t elapsed = key - anchor_key_;
    if (per_key_ != 0 && elapsed < anchor_every_keys_) {
      // elapsed < 1 ms worth of keys and per_key_ <= 20 << 32: no overflow.
      return anchor_ns_ + static_cast<int64_t>((elapsed * per_key_) >> 32);
    }
    return Anchor();
  }

  // Unix time in nanoseconds now.
  int64_t NowNs() {
#if defined(__x86_64__)
    if (tsc_) return NanosAt(__rdtsc());
#endif
    return RealtimeNs();
  }

  static int64_t RealtimeNs() { return ReadNs(CLOCK_REALTIME); }
  static int64_t MonotonicNs() { return ReadNs(CLOCK_MONOTONIC); }

 private:
  static constexpr int64_t kAnchorEveryNs = 1'000'000;  // 1 ms

  static int64_t ReadNs(clockid_t id) {
    struct timespec now;
    clock_gettime(id, &now);
    return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
  }
  // The key clock now.
  uint64_t KeyNow() const;

  // Reads CLOCK_REALTIME between two key-clock reads and returns it; when
  // the pair is tight, derives the rate from the previous anchor (TSC) or
  // takes it as 1 (monotonic), and moves the anchor here.
  int64_t Anchor();

  const bool tsc_ = Usable();
  uint64_t anchor_key_ = 0;
  int64_t anchor_ns_ = 0;
  bool anchored_ = false;
  // Nanoseconds per key unit, 32.32 fixed point; 0: unknown.
  uint64_t per_key_ = 0;
  uint64_t anchor_every_keys_ = 0;
};

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_TSC_WALL_CLOCK_H_
