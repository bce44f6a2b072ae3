#include "syncstream/core/internal/tsc_wall_clock.h"

#include <cstdint>
#include <cstdlib>

#include "gtest/gtest.h"
#include "syncstream/core/internal/order_clock.h"
#include "syncstream/core/internal/tsc.h"
#include "syncstream/core/testing/clock.h"

namespace syncstream {
namespace internal {
namespace {

// The contract's bound, not a measurement of this machine: a reading taken
// between `before` and `after` converts to a time within kMaxErrorNs of
// that interval.
constexpr int64_t kTolerance = TscWallClock::kMaxErrorNs;

TEST(TscWallClockTest, RunsOnTheRequestedClockSource) {
  // The BUILD file runs this test once per source (clock_tests.bzl).
  ASSERT_NE(std::getenv("SYNCSTREAM_CLOCK"), nullptr);
  testing::ExpectRequestedClockSource();
  EXPECT_EQ(TscWallClock::Usable(), UsesTsc());
  EXPECT_EQ(OrderClockUsesTsc(), UsesTsc());
}

// Every time lies within the bound of CLOCK_REALTIME read just before and
// just after it, across many re-anchorings (20 ms: the rate is measured,
// then used).
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

// The time of an order key read by the caller (a record's key), on either
// kind of key (TSC ticks or CLOCK_MONOTONIC nanoseconds).
TEST(TscWallClockTest, NanosAtOrderKeysFollowsRealtime) {
  TscWallClock clock;
  const int64_t start = TscWallClock::RealtimeNs();
  int64_t calls = 0;
  while (TscWallClock::RealtimeNs() - start < 20'000'000) {
    const int64_t before = TscWallClock::RealtimeNs();
    const int64_t at = clock.NanosAt(OrderKeyNow());
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
  TscWallClock clock;
  for (int i = 0; i < 5; ++i) {
    const int64_t before = TscWallClock::RealtimeNs();
    const int64_t at = clock.NanosAt(OrderKeyNow());
    const int64_t after = TscWallClock::RealtimeNs();
    EXPECT_GE(at, before - kTolerance);
    EXPECT_LE(at, after + kTolerance);
    // Wait (busily, bounded) past the anchoring interval.
    while (TscWallClock::RealtimeNs() - after < 2'000'000) {
    }
  }
}

// Which sources the machine offers is read, not assumed: whatever it says,
// a reliable TSC is an invariant one.
TEST(TscWallClockTest, AReliableTscIsInvariant) {
  if (TscIsReliable()) {
    EXPECT_TRUE(HasInvariantTsc());
  }
  EXPECT_STREQ(ClockSourceName(ClockSource::kTsc), "tsc");
  EXPECT_STREQ(ClockSourceName(ClockSource::kClockGettime), "clock_gettime");
}

}  // namespace
}  // namespace internal
}  // namespace syncstream
