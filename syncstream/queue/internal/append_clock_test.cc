#include "syncstream/queue/internal/append_clock.h"

#include <time.h>

#include <cstdint>

#include "gtest/gtest.h"

namespace syncstream::queue_internal {
namespace {

int64_t RealtimeNs() {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// Every stamp lies between CLOCK_REALTIME read just before and just after
// it (within the extrapolation's error, microseconds; the bound is loose so
// that a loaded machine does not matter), across several re-anchorings.
TEST(AppendClockTest, FollowsRealtime) {
  constexpr int64_t kTolerance = 500'000;  // 0.5 ms
  AppendClock clock;
  const int64_t start = RealtimeNs();
  int64_t calls = 0;
  while (RealtimeNs() - start < 20'000'000) {  // 20 ms: the rate is measured, then used
    const int64_t before = RealtimeNs();
    const int64_t stamp = clock.NowNs();
    const int64_t after = RealtimeNs();
    ASSERT_GE(stamp, before - kTolerance) << "call " << calls;
    ASSERT_LE(stamp, after + kTolerance) << "call " << calls;
    ++calls;
  }
  EXPECT_GT(calls, 0);
}

}  // namespace
}  // namespace syncstream::queue_internal
