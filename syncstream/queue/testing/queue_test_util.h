// Test support for the queue: child processes (fork or exec) with deadlines,
// unique queue names, and the writer/reader actors that the fork tests run
// in a child and the exec tests run in queue_test_helper.
#ifndef SYNCSTREAM_QUEUE_TESTING_QUEUE_TEST_UTIL_H_
#define SYNCSTREAM_QUEUE_TESTING_QUEUE_TEST_UTIL_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace syncstream::queue_testing {

// "t<pid>-<random>-<tag>": unique per test and run.
std::string UniqueQueueName(const std::string& tag);

// Runs `body` in a forked child that exits with its return value.
pid_t ForkRun(const std::function<int()>& body);
// Starts `argv` with extra "KEY=VALUE" environment entries.
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

// Waits for `pid` to exit; its exit code (128+signal if killed). On timeout
// the child is SIGKILLed and DeadlineExceeded returned.
absl::StatusOr<int> WaitForExit(pid_t pid, absl::Duration timeout);
// Waits until `pid` stops (SIGSTOP).
absl::Status WaitForStop(pid_t pid, absl::Duration timeout);
// Waits until `pid` sleeps in the kernel (state 'S' in /proc/<pid>/stat).
absl::Status WaitForSleep(pid_t pid, absl::Duration timeout);
// SIGKILLs and reaps.
void KillAndReap(pid_t pid);

// Polls `condition` until true or timeout.
bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout);

// The bodies of one writer alone on a new queue of `capacity` bytes, each
// made to sit where the next lap's frames go: every 8 bytes but the first
// (the message's index) read as a committed frame word of the lap after
// the one they are written in, at their position, with a length no frame
// has (1 MiB). Sender and type have 8 bytes together, so the body's words
// are at 8-byte positions; bodies have 12 to 18 words, so frames start at
// ever other offsets of the ring. A reader that meets a claim whose header
// is not written yet finds such bytes there unless the space was zeroed.
class HostileBodies {
 public:
  explicit HostileBodies(size_t capacity) : capacity_(capacity) {}
  // The body of the next message.
  std::string Next();
  static constexpr const char kSender[] = "w0";
  static constexpr const char kType[] = "type-6";

 private:
  size_t capacity_;
  uint64_t position_ = 0;  // where the next frame would go, if it fits
  uint64_t index_ = 0;
};
// Appends `count` HostileBodies to `queue` as HostileBodies::kSender.
int RunHostileWriter(const std::string& queue, int count);

// Actors. Bodies are "WRITER:INDEX". Return 0 on success, else print why to
// stderr and return nonzero.
// Appends `count` messages, blocking up to 20 s each while full.
int RunWriter(const std::string& queue, const std::string& name, int count);
// Attached reader: reads until every writer's `count` messages arrived,
// checking each writer's order and that nothing is repeated.
int RunReader(const std::string& queue, const std::string& name,
              const std::vector<std::string>& writers, int count);

}  // namespace syncstream::queue_testing

#endif  // SYNCSTREAM_QUEUE_TESTING_QUEUE_TEST_UTIL_H_
