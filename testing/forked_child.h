// ForkedChild: a test-local RAII child process running a function (fork +
// _exit), until syncstream/core/child_process.h lands on main. Killed with
// SIGKILL and reaped on destruction if still running.
#ifndef SYNCSTREAM_TESTING_FORKED_CHILD_H_
#define SYNCSTREAM_TESTING_FORKED_CHILD_H_

#include <sys/types.h>

#include <functional>
#include <optional>

#include "absl/time/time.h"

namespace syncstream::testing {

class ForkedChild {
 public:
  // Forks; the child runs `body` and exits with its return value. The
  // caller should have no other threads (fork copies only the caller).
  explicit ForkedChild(std::function<int()> body);
  ~ForkedChild();
  ForkedChild(ForkedChild&& other) noexcept;
  ForkedChild& operator=(ForkedChild&&) = delete;
  ForkedChild(const ForkedChild&) = delete;
  ForkedChild& operator=(const ForkedChild&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `signal` (no-op once reaped).
  void Signal(int signal);
  // Waits for exit up to `timeout`: the raw wait status, or nullopt on
  // timeout.
  std::optional<int> Wait(absl::Duration timeout);

 private:
  pid_t pid_ = -1;
};

// "exit 0", "killed by signal 9", ...
const char* DescribeWaitStatusShort(int status);

}  // namespace syncstream::testing

#endif  // SYNCSTREAM_TESTING_FORKED_CHILD_H_
