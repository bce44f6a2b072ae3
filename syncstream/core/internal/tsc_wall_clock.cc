#include "syncstream/core/internal/tsc_wall_clock.h"

namespace syncstream {
namespace internal {
namespace {

// An anchor whose two TSC reads lie further apart than this many ticks (2 us
// at 10 GHz, more at lower rates) was interrupted.
constexpr uint64_t kAnchorSlackTicks = 20'000;
// The rate is measured over at least this long.
constexpr int64_t kMinRateIntervalNs = 500'000;
// Plausible rates, in 32.32 nanoseconds per tick: 20 GHz to 50 MHz.
constexpr uint64_t kMinScale = (uint64_t{1} << 32) / 20;
constexpr uint64_t kMaxScale = uint64_t{20} << 32;

}  // namespace

int64_t TscWallClock::Anchor() {
#if defined(__x86_64__)
  const uint64_t before = __rdtsc();
  const int64_t ns = RealtimeNs();
  const uint64_t after = __rdtsc();
  if (after < before || (anchored_ && before < anchor_tsc_) ||
      ns < anchor_ns_) {
    // The TSC or the clock went backwards: measure afresh.
    anchored_ = false;
    scale_ = 0;
  }
  if (after - before > kAnchorSlackTicks) return ns;  // interrupted
  const uint64_t tsc = before + (after - before) / 2;
  if (!anchored_) {
    anchored_ = true;
    anchor_tsc_ = tsc;
    anchor_ns_ = ns;
    return ns;
  }
  const int64_t elapsed_ns = ns - anchor_ns_;
  if (elapsed_ns < kMinRateIntervalNs) {
    // Too close to the anchor to measure the rate well: keep the anchor
    // (and the rate, if known, would not have brought us here).
    return ns;
  }
  const uint64_t elapsed_ticks = tsc - anchor_tsc_;
  uint64_t scale = 0;
  if (elapsed_ticks != 0) {
    scale = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(elapsed_ns) << 32) / elapsed_ticks);
  }
  if (scale < kMinScale || scale > kMaxScale) {
    scale_ = 0;
  } else {
    scale_ = scale;
    anchor_every_ticks_ = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(kAnchorEveryNs) << 32) / scale);
  }
  anchor_tsc_ = tsc;
  anchor_ns_ = ns;
  return ns;
#else
  return RealtimeNs();
#endif
}

}  // namespace internal
}  // namespace syncstream
