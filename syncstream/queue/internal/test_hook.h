// Test hooks of the queue: points where a process stops itself, so that a
// death test can SIGKILL it exactly there. Internal to syncstream/queue.
//
// The production library never enables a hook: `active_test_hook` is
// kNone unless a test program links //syncstream/queue:test_hook_from_env,
// which sets it from SYNCSTREAM_QUEUE_TEST_HOOK before main. No environment
// variable can stop a program built without that test-only library.
#ifndef SYNCSTREAM_QUEUE_INTERNAL_TEST_HOOK_H_
#define SYNCSTREAM_QUEUE_INTERNAL_TEST_HOOK_H_

namespace syncstream::queue_internal {

// The hooks (SYNCSTREAM_QUEUE_TEST_HOOK=NAME, in test programs) and where
// each stops:
//   stop-after-claim:   an append claimed its frames, wrote no header yet;
//   stop-mid-header:    an append wrote its first frame's header fields, not
//                       its frame word;
//   stop-after-reserve: an append wrote its reserved headers, no payload;
//   stop-after-commit:  an append committed its frames, did not yet mark its
//                       claim finished;
//   stop-around-lost-race: an append loaded the tail, is about to claim (so
//                       that another writer can take the tail first), and
//                       again after its compare-and-swap failed;
//   stop-holding-lock:  Attach holds the queue lock;
//   stop-between-positions: the process's first load of the queue's
//                       positions (opening it) has loaded head, not tail
//                       (others can move both on by laps meanwhile);
//   pause-after-claim:  every append sleeps 50 us after its claim, before its
//                       headers (readers meet claims without a header).
enum class TestHook {
  kNone,
  kStopAfterClaim,
  kStopMidHeader,
  kStopAfterReserve,
  kStopAfterCommit,
  kStopAroundLostRace,
  kStopHoldingLock,
  kStopBetweenPositions,
  kPauseAfterClaim
};

// The hook in effect: kNone (constant-initialized) unless a test-only
// library sets it during static initialization; never changed after main
// starts (a plain load where it is tested).
extern TestHook active_test_hook;

// Stops this process (SIGSTOP) the first time it is called, and does
// nothing after that.
void StopOnceForTest();

}  // namespace syncstream::queue_internal

#endif  // SYNCSTREAM_QUEUE_INTERNAL_TEST_HOOK_H_
