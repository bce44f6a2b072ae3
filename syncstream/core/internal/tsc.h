// Which clock syncstream reads for record timestamps and order keys: the
// CPU's time-stamp counter (TSC) or clock_gettime(2). Not a public API;
// shared by the order keys of ShardedRecordStore (order_clock.h) and by the
// timestamps of records and queue messages (tsc_wall_clock.h).
//
// The choice is made once per process, on first use, and never changes, so
// that keys and times of one process never mix clocks:
//  - the environment variable SYNCSTREAM_CLOCK=tsc asks for the TSC and
//    SYNCSTREAM_CLOCK=clock_gettime for clock_gettime(2) (tests use it to
//    exercise both paths on one machine; an operator may use it to rule the
//    TSC out). The TSC is taken only if the CPU has an invariant one
//    (HasInvariantTsc()); otherwise clock_gettime is used.
//  - otherwise (unset, empty or any other value) the TSC is used where
//    TscIsReliable(), clock_gettime elsewhere.
#ifndef SYNCSTREAM_CORE_INTERNAL_TSC_H_
#define SYNCSTREAM_CORE_INTERNAL_TSC_H_

#include <string>

namespace syncstream {
namespace internal {

enum class ClockSource {
  kTsc,           // the TSC, calibrated against CLOCK_REALTIME
  kClockGettime,  // clock_gettime(CLOCK_REALTIME / CLOCK_MONOTONIC)
};

// "tsc" or "clock_gettime".
const char* ClockSourceName(ClockSource source);

// Whether the CPU reports an invariant TSC (CPUID 0x80000007, EDX bit 8:
// the counter ticks at a constant rate in every power state). Always false
// off x86-64.
bool HasInvariantTsc();

// Whether the TSC can serve as a clock that agrees across CPUs: the CPU has
// an invariant TSC and either the kernel uses it as its clock source, or
// the kernel lists it as an available clock source (it did not find the
// CPUs' counters out of step and mark it unstable) and its CPU flags say the
// counter runs at a constant, known rate in every state (constant_tsc,
// nonstop_tsc, and tsc_known_freq or tsc_reliable). The second case covers
// virtual machines whose kernel prefers a paravirtual clock (kvm-clock) to
// an equally good TSC. Reads /proc/cpuinfo and /sys on every call.
bool TscIsReliable();

// The clock in use in this process (see above). Thread-safe.
ClockSource ClockSourceInUse();

// ClockSourceInUse() == ClockSource::kTsc.
inline bool UsesTsc() { return ClockSourceInUse() == ClockSource::kTsc; }

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_TSC_H_
