// The CPU's time-stamp counter: whether it can serve as a clock. Not a
// public API; shared by the order keys of ShardedRecordStore
// (order_clock.h) and the queue's message timestamps (append_clock.h).
#ifndef SYNCSTREAM_CORE_INTERNAL_TSC_H_
#define SYNCSTREAM_CORE_INTERNAL_TSC_H_

namespace syncstream {
namespace internal {

// Whether the CPU reports an invariant TSC (CPUID 0x80000007, EDX bit 8:
// the counter ticks at a constant rate in every power state). Always false
// off x86-64. It says nothing of whether the counters of different CPUs
// agree; the kernel checks that before it uses the TSC as its clocksource.
bool HasInvariantTsc();

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_TSC_H_
