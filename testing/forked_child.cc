#include "testing/forked_child.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/time/clock.h"

namespace syncstream::testing {

ForkedChild::ForkedChild(std::function<int()> body) {
  std::fflush(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    int code = body();
    std::fflush(nullptr);
    ::_exit(code);
  }
}

ForkedChild::ForkedChild(ForkedChild&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)) {}

ForkedChild::~ForkedChild() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::kill(pid_, SIGCONT);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void ForkedChild::Signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

std::optional<int> ForkedChild::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return std::nullopt;
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration backoff = absl::Microseconds(200);
  while (true) {
    int status = 0;
    pid_t got = ::waitpid(pid_, &status, WNOHANG);
    if (got == pid_) {
      pid_ = -1;
      return status;
    }
    if (got < 0 && errno != EINTR) return std::nullopt;
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(backoff);
    if (backoff < absl::Milliseconds(20)) backoff *= 2;
  }
}

const char* DescribeWaitStatusShort(int status) {
  static thread_local char buf[64];
  if (WIFEXITED(status)) {
    std::snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    std::snprintf(buf, sizeof(buf), "killed by signal %d", WTERMSIG(status));
  } else {
    std::snprintf(buf, sizeof(buf), "wait status %d", status);
  }
  return buf;
}

}  // namespace syncstream::testing
