#include "syncstream/core/internal/asymmetric_fence.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace syncstream {
namespace internal {
namespace {

bool RegisterMembarrier() {
#if defined(__NR_membarrier)
  const long commands = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (commands < 0 || (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) {
    return false;
  }
  return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                 0, 0) == 0;
#else
  return false;
#endif
}

}  // namespace

bool HeavyFenceUsesMembarrier() {
  // Decided once: both sides must agree for the whole process.
  static const bool registered = RegisterMembarrier();
  return registered;
}

void HeavyFence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
#if defined(__NR_membarrier)
  if (!HeavyFenceUsesMembarrier()) return;
  for (;;) {
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) {
      return;
    }
    // Not registered (a process that forked before registering, say):
    // register now and retry. The light side relies on this barrier, so
    // there is no silent way out.
    if (!RegisterMembarrier()) __builtin_trap();
  }
#endif
}

}  // namespace internal
}  // namespace syncstream
