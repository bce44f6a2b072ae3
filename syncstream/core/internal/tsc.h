// The CPU's time-stamp counter: whether it can serve as a clock. Not a
// public API; shared by the order keys of ShardedRecordStore
// (order_clock.h), the record timestamps derived from them
// (tsc_wall_clock.h), which also stamps the queue's messages.
#ifndef SYNCSTREAM_CORE_INTERNAL_TSC_H_
#define SYNCSTREAM_CORE_INTERNAL_TSC_H_

namespace syncstream {
namespace internal {

// Whether the CPU reports an invariant TSC (CPUID 0x80000007, EDX bit 8:
// the counter ticks at a constant rate in every power state). Always false
// off x86-64. It says nothing of whether the counters of different CPUs
// agree; the kernel checks that before it uses the TSC as its clocksource.
bool HasInvariantTsc();

// Whether the TSC serves as a clock that agrees across CPUs: an invariant
// TSC that the kernel uses as its clocksource (it checked that the CPUs'
// counters are synchronized, and switches away from the TSC when they
// drift). Decided on first use and never changed, so that callers never
// mix clocks within a process.
bool TscIsSystemClock();

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_TSC_H_
