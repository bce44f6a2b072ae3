#include "syncstream/core/internal/order_clock.h"

#include <time.h>

#include <atomic>
#include <fstream>
#include <string>

#include "syncstream/core/internal/tsc.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace syncstream {
namespace internal {
namespace {

bool DetectTsc() {
#if defined(__x86_64__)
  if (!HasInvariantTsc()) return false;
  // The kernel uses the TSC only after checking that the CPUs' counters are
  // synchronized, and switches away from it when they drift.
  std::ifstream source(
      "/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  return static_cast<bool>(source >> name) && name == "tsc";
#else
  return false;
#endif
}

// Decided on first use and never changed, so that keys never mix clocks.
bool UseTsc() {
  static const bool use_tsc = DetectTsc();
  return use_tsc;
}

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
  if (UseTsc()) {
    _mm_lfence();  // earlier loads have completed
    return __rdtsc();
  }
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
