#include "syncstream/core/internal/tsc.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace syncstream {
namespace internal {

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

}  // namespace internal
}  // namespace syncstream
