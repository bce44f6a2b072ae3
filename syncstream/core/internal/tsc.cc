#include "syncstream/core/internal/tsc.h"

#include <fstream>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace syncstream {
namespace internal {
namespace {

bool DetectTscIsSystemClock() {
#if defined(__x86_64__)
  if (!HasInvariantTsc()) return false;
  std::ifstream source(
      "/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  return static_cast<bool>(source >> name) && name == "tsc";
#else
  return false;
#endif
}

}  // namespace

bool HasInvariantTsc() {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0x80000000u, nullptr) < 0x80000007u) return false;
  __cpuid(0x80000007u, eax, ebx, ecx, edx);
  return (edx & (1u << 8)) != 0;
#else
  return false;
#endif
}

bool TscIsSystemClock() {
  static const bool is_system_clock = DetectTscIsSystemClock();
  return is_system_clock;
}

}  // namespace internal
}  // namespace syncstream
