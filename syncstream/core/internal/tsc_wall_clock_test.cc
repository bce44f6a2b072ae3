#include "syncstream/core/internal/tsc_wall_clock.h"

#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "gtest/gtest.h"

namespace syncstream {
namespace internal {
namespace {

// Loose, so that a loaded machine does not matter; the extrapolation's
// error is microseconds.
constexpr int64_t kTolerance = 500'000;  // 0.5 ms

// Every time lies between CLOCK_REALTIME read just before and just after
// it, across several re-anchorings (20 ms: the rate is measured, then used).
TEST(TscWallClockTest, NowFollowsRealtime) {
  TscWallClock clock;
  const int64_t start = TscWallClock::RealtimeNs();
  int64_t calls = 0;
  while (TscWallClock::RealtimeNs() - start < 20'000'000) {
    const int64_t before = TscWallClock::RealtimeNs();
    const int64_t now = clock.NowNs();
    const int64_t after = TscWallClock::RealtimeNs();
    ASSERT_GE(now, before - kTolerance) << "call " << calls;
    ASSERT_LE(now, after + kTolerance) << "call " << calls;
    ++calls;
  }
  EXPECT_GT(calls, 0);
}

#if defined(__x86_64__)
// The time of a TSC reading taken by the caller (a record's order key).
TEST(TscWallClockTest, NanosAtFollowsRealtime) {
  if (!TscWallClock::Usable()) GTEST_SKIP() << "the TSC is not the clock here";
  TscWallClock clock;
  const int64_t start = TscWallClock::RealtimeNs();
  int64_t calls = 0;
  while (TscWallClock::RealtimeNs() - start < 20'000'000) {
    const int64_t before = TscWallClock::RealtimeNs();
    const int64_t at = clock.NanosAt(__rdtsc());
    const int64_t after = TscWallClock::RealtimeNs();
    ASSERT_GE(at, before - kTolerance) << "call " << calls;
    ASSERT_LE(at, after + kTolerance) << "call " << calls;
    ++calls;
  }
  EXPECT_GT(calls, 0);
}

// Readings spaced further apart than the anchoring interval still give the
// right time (each re-anchors).
TEST(TscWallClockTest, SparseReadingsReanchor) {
  if (!TscWallClock::Usable()) GTEST_SKIP() << "the TSC is not the clock here";
  TscWallClock clock;
  for (int i = 0; i < 5; ++i) {
    const int64_t before = TscWallClock::RealtimeNs();
    const int64_t at = clock.NanosAt(__rdtsc());
    const int64_t after = TscWallClock::RealtimeNs();
    EXPECT_GE(at, before - kTolerance);
    EXPECT_LE(at, after + kTolerance);
    // Wait (busily, bounded) past the anchoring interval.
    while (TscWallClock::RealtimeNs() - after < 2'000'000) {
    }
  }
}
#endif

}  // namespace
}  // namespace internal
}  // namespace syncstream
