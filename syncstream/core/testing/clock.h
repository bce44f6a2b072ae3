// Test helpers for timestamps: the wall clock read the way the contract
// states it (CLOCK_REALTIME), and a check that the test runs on the clock
// source its target asked for (testing/clock_tests.bzl).
#ifndef SYNCSTREAM_CORE_TESTING_CLOCK_H_
#define SYNCSTREAM_CORE_TESTING_CLOCK_H_

#include <time.h>

#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "syncstream/core/internal/tsc.h"
#include "syncstream/core/internal/tsc_wall_clock.h"

namespace syncstream {
namespace testing {

// How far a record's timestamp may be from CLOCK_REALTIME at the moment it
// was taken (the contract of line_writer.h and tsc_wall_clock.h).
inline constexpr absl::Duration kTimestampTolerance =
    absl::Nanoseconds(internal::TscWallClock::kMaxErrorNs);

// CLOCK_REALTIME now (absl::Now() has an extrapolation of its own).
inline absl::Time RealtimeNow() {
  return absl::FromUnixNanos(internal::TscWallClock::RealtimeNs());
}

// Fails unless the process uses the clock source that SYNCSTREAM_CLOCK
// asked for; "tsc" on a CPU without an invariant TSC must fall back.
inline void ExpectRequestedClockSource() {
  const char* requested = std::getenv("SYNCSTREAM_CLOCK");
  if (requested == nullptr) return;
  const internal::ClockSource in_use = internal::ClockSourceInUse();
  if (std::string(requested) == "clock_gettime") {
    EXPECT_EQ(in_use, internal::ClockSource::kClockGettime);
  } else if (std::string(requested) == "tsc") {
    EXPECT_EQ(in_use, internal::HasInvariantTsc()
                          ? internal::ClockSource::kTsc
                          : internal::ClockSource::kClockGettime);
    if (!internal::HasInvariantTsc()) {
      std::fprintf(stderr, "no invariant TSC: running on clock_gettime\n");
    }
  }
}

}  // namespace testing
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_TESTING_CLOCK_H_
