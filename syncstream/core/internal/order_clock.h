// Order keys: a clock that orders events of different threads in real time,
// for ShardedRecordStore. Not a public API.
//
// If a write took its key with OrderKeyNow() and then published its record
// with a sequentially consistent store, and a reader took OrderHorizonNow()
// before loading that record's publication and did not see it, then every
// write that began after the first write's publication was visible takes a
// key above that horizon. On x86-64 with an invariant TSC that the kernel
// uses as its clocksource (it checked that the CPUs' counters agree) the
// keys are TSC ticks read in order with the surrounding memory accesses
// (lfence); elsewhere they are CLOCK_MONOTONIC nanoseconds (the kernel
// keeps that clock monotonic across CPUs) between full fences.
#ifndef SYNCSTREAM_CORE_INTERNAL_ORDER_CLOCK_H_
#define SYNCSTREAM_CORE_INTERNAL_ORDER_CLOCK_H_

#include <cstdint>

namespace syncstream {
namespace internal {

// Whether keys come from the TSC (decided once per process).
bool OrderClockUsesTsc();

// A key for a record about to be stored: taken after every earlier load of
// the calling thread has completed.
uint64_t OrderKeyNow();

// A reader's horizon: taken before any later load of the calling thread.
uint64_t OrderHorizonNow();

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_ORDER_CLOCK_H_
