// The queue's test hook: off in every program (see test_hook.h).
#include "syncstream/queue/internal/test_hook.h"

#include <signal.h>

#include <atomic>

#include "absl/base/attributes.h"

namespace syncstream::queue_internal {

ABSL_CONST_INIT TestHook active_test_hook = TestHook::kNone;

void StopOnceForTest() {
  static std::atomic<bool> stopped{false};
  if (!stopped.exchange(true)) ::raise(SIGSTOP);
}

}  // namespace syncstream::queue_internal
