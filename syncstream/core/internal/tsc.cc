#include "syncstream/core/internal/tsc.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace syncstream {
namespace internal {
namespace {

constexpr char kClockSourceDir[] = "/sys/devices/system/clocksource/clocksource0/";

// The whitespace-separated words of the first line of `path` (of the first
// line starting with `prefix` if one is given), or "" if unreadable.
std::string FirstLine(const char* path, const char* prefix = nullptr) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (prefix == nullptr || line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

bool HasWord(const std::string& words, const char* word) {
  std::istringstream in(words);
  std::string w;
  while (in >> w) {
    if (w == word) return true;
  }
  return false;
}

ClockSource Select() {
  const char* requested = std::getenv("SYNCSTREAM_CLOCK");
  if (requested != nullptr && std::strcmp(requested, "clock_gettime") == 0) {
    return ClockSource::kClockGettime;
  }
  if (requested != nullptr && std::strcmp(requested, "tsc") == 0) {
    return HasInvariantTsc() ? ClockSource::kTsc : ClockSource::kClockGettime;
  }
  return TscIsReliable() ? ClockSource::kTsc : ClockSource::kClockGettime;
}

}  // namespace

const char* ClockSourceName(ClockSource source) {
  return source == ClockSource::kTsc ? "tsc" : "clock_gettime";
}

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

bool TscIsReliable() {
  if (!HasInvariantTsc()) return false;
  const std::string dir = kClockSourceDir;
  if (HasWord(FirstLine((dir + "current_clocksource").c_str()), "tsc")) {
    return true;
  }
  if (!HasWord(FirstLine((dir + "available_clocksource").c_str()), "tsc")) {
    return false;
  }
  const std::string flags = FirstLine("/proc/cpuinfo", "flags");
  return HasWord(flags, "constant_tsc") && HasWord(flags, "nonstop_tsc") &&
         (HasWord(flags, "tsc_known_freq") || HasWord(flags, "tsc_reliable"));
}

ClockSource ClockSourceInUse() {
  static const ClockSource source = Select();
  return source;
}

}  // namespace internal
}  // namespace syncstream
