// ClockNanos: a clock_gettime(2) clock read in nanoseconds, for the
// benchmarks' wall-clock (CLOCK_MONOTONIC) and CPU-time
// (CLOCK_THREAD_CPUTIME_ID, CLOCK_PROCESS_CPUTIME_ID) measurements.
#ifndef SYNCSTREAM_TESTING_BENCH_BENCH_CLOCK_H_
#define SYNCSTREAM_TESTING_BENCH_BENCH_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace syncstream::bench {

inline int64_t ClockNanos(clockid_t clock) {
  struct timespec now;
  clock_gettime(clock, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

}  // namespace syncstream::bench

#endif  // SYNCSTREAM_TESTING_BENCH_BENCH_CLOCK_H_
