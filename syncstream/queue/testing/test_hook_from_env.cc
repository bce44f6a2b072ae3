// Test-only: sets the queue's test hook (internal/test_hook.h) from
// SYNCSTREAM_QUEUE_TEST_HOOK during static initialization. Linked only into
// test programs (alwayslink), never into the library or the CLI.
#include <cstdlib>
#include <cstring>

#include "syncstream/queue/internal/test_hook.h"

namespace syncstream::queue_internal {
namespace {

TestHook ReadTestHook() {
  const char* v = std::getenv("SYNCSTREAM_QUEUE_TEST_HOOK");
  if (v == nullptr) return TestHook::kNone;
  if (std::strcmp(v, "stop-after-claim") == 0) return TestHook::kStopAfterClaim;
  if (std::strcmp(v, "stop-mid-header") == 0) return TestHook::kStopMidHeader;
  if (std::strcmp(v, "stop-after-reserve") == 0) return TestHook::kStopAfterReserve;
  if (std::strcmp(v, "stop-after-commit") == 0) return TestHook::kStopAfterCommit;
  if (std::strcmp(v, "stop-around-lost-race") == 0) return TestHook::kStopAroundLostRace;
  if (std::strcmp(v, "stop-holding-lock") == 0) return TestHook::kStopHoldingLock;
  if (std::strcmp(v, "stop-between-positions") == 0) return TestHook::kStopBetweenPositions;
  if (std::strcmp(v, "pause-after-claim") == 0) return TestHook::kPauseAfterClaim;
  return TestHook::kNone;
}

const bool kHookSet = (active_test_hook = ReadTestHook(), true);

}  // namespace
}  // namespace syncstream::queue_internal
