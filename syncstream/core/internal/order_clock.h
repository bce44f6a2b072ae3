// Order keys: a clock that orders events of different threads in real time,
// for ShardedRecordStore. Not a public API.
//
// A write takes its key with OrderKeyNow() before it publishes its record
// (a release store). A write that begins after it saw another's publication
// (any communication between the threads, such as a join, a mutex, or a
// flag set after the first write returned, makes it so) takes a larger key.
// And if a reader took OrderHorizonNow() and then did not see a record's
// publication, every write that begins after seeing that publication takes
// a key above the reader's horizon: readers that leave out records keyed at
// or above their horizon return causally closed sets. Where the process
// uses the TSC (tsc.h: an invariant TSC whose counters agree across CPUs)
// the keys are TSC ticks read in order with the surrounding memory accesses
// (lfence); elsewhere they are CLOCK_MONOTONIC nanoseconds (the kernel
// keeps that clock monotonic across CPUs) between full fences.
//
// A key is also a time: TscWallClock (tsc_wall_clock.h) turns it into the
// record's wall-clock timestamp, so a record costs one clock read, not two.
#ifndef SYNCSTREAM_CORE_INTERNAL_ORDER_CLOCK_H_
#define SYNCSTREAM_CORE_INTERNAL_ORDER_CLOCK_H_

#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace syncstream {
namespace internal {

// Whether keys come from the TSC (decided once per process).
bool OrderClockUsesTsc();

// A key for a record about to be stored: taken after every earlier load of
// the calling thread has completed.
uint64_t OrderKeyNow();

#if defined(__x86_64__)
// OrderKeyNow() for callers that found OrderClockUsesTsc() true (and keep
// that answer), inline: the TSC, read after every earlier load completed.
inline uint64_t OrderKeyFromTsc() {
  _mm_lfence();  // earlier loads have completed
  return __rdtsc();
}
#endif

// A reader's horizon: taken before any later load of the calling thread.
uint64_t OrderHorizonNow();

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_ORDER_CLOCK_H_
