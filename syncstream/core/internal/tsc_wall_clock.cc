#include "syncstream/core/internal/tsc_wall_clock.h"

namespace syncstream {
namespace internal {
namespace {

// An anchor whose two key reads lie further apart than this many
// nanoseconds was interrupted (preempted, or the VM was descheduled); its
// midpoint could be off by half of it.
constexpr int64_t kAnchorSlackNs = 10'000;
// The TSC rate is measured over at least this long: with both anchors off
// by at most kAnchorSlackNs / 2, the rate is off by at most 2%, which over
// the kAnchorEveryNs of extrapolation is 20 us; with the anchor's own 5 us,
// a time is within 25 us of CLOCK_REALTIME (kMaxErrorNs is 100 us).
constexpr int64_t kMinRateIntervalNs = 500'000;
// Plausible TSC rates, in 32.32 nanoseconds per tick: 20 GHz to 50 MHz.
constexpr uint64_t kMinScale = (uint64_t{1} << 32) / 20;
constexpr uint64_t kMaxScale = uint64_t{20} << 32;
// Ticks in kAnchorSlackNs at the fastest plausible rate (20 GHz).
constexpr uint64_t kAnchorSlackTicks = kAnchorSlackNs * 20;

}  // namespace

uint64_t TscWallClock::KeyNow() const {
#if defined(__x86_64__)
  if (tsc_) return __rdtsc();
#endif
  return static_cast<uint64_t>(MonotonicNs());
}

int64_t TscWallClock::Anchor() {
  const uint64_t before = KeyNow();
  const int64_t ns = RealtimeNs();
  const uint64_t after = KeyNow();
  if (after < before || (anchored_ && before < anchor_key_) ||
      ns < anchor_ns_) {
    // A clock went backwards (or the system clock was set back): measure
    // afresh.
    anchored_ = false;
    per_key_ = 0;
  }
  // The slack in keys: ticks at the fastest plausible rate until the rate
  // is known, then at the measured one.
  const uint64_t slack =
      !tsc_ ? kAnchorSlackNs
            : per_key_ == 0
                  ? kAnchorSlackTicks
                  : static_cast<uint64_t>(
                        (static_cast<unsigned __int128>(kAnchorSlackNs) << 32) /
                        per_key_);
  if (after - before > slack) return ns;  // interrupted
  const uint64_t key = before + (after - before) / 2;
  if (!tsc_) {
    // Monotonic nanoseconds: the rate is 1; the offset is this anchor's.
    anchored_ = true;
    anchor_key_ = key;
    anchor_ns_ = ns;
    per_key_ = uint64_t{1} << 32;
    anchor_every_keys_ = kAnchorEveryNs;
    return ns;
  }
  if (!anchored_) {
    anchored_ = true;
    anchor_key_ = key;
    anchor_ns_ = ns;
    return ns;
  }
  const int64_t elapsed_ns = ns - anchor_ns_;
  if (elapsed_ns < kMinRateIntervalNs) {
    // Too close to the anchor to measure the rate well: keep the anchor
    // (and the rate, if known, would not have brought us here).
    return ns;
  }
  const uint64_t elapsed_ticks = key - anchor_key_;
  uint64_t scale = 0;
  if (elapsed_ticks != 0) {
    scale = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(elapsed_ns) << 32) / elapsed_ticks);
  }
  if (scale < kMinScale || scale > kMaxScale) {
    per_key_ = 0;
  } else {
    per_key_ = scale;
    anchor_every_keys_ = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(kAnchorEveryNs) << 32) / scale);
  }
  anchor_key_ = key;
  anchor_ns_ = ns;
  return ns;
}

}  // namespace internal
}  // namespace syncstream
