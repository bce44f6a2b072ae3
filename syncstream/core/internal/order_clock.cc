#include "syncstream/core/internal/order_clock.h"

#include <time.h>

#include <atomic>

#include "syncstream/core/internal/tsc.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace syncstream {
namespace internal {
namespace {

// Decided once (tsc.h), so that keys never mix clocks.
bool UseTsc() { return UsesTsc(); }

uint64_t MonotonicNanos() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000u +
         static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace

bool OrderClockUsesTsc() { return UseTsc(); }

uint64_t OrderKeyNow() {
#if defined(__x86_64__)
  if (UseTsc()) return OrderKeyFromTsc();
#endif
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return MonotonicNanos();
}

uint64_t OrderHorizonNow() {
#if defined(__x86_64__)
  if (UseTsc()) {
    const uint64_t now = __rdtsc();
    _mm_lfence();  // no later load starts before the read
    return now;
  }
  const uint64_t now = MonotonicNanos();
  _mm_lfence();
  return now;
#else
  const uint64_t now = MonotonicNanos();
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return now;
#endif
}

}  // namespace internal
}  // namespace syncstream
