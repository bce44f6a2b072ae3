// ChildProcess: sole owner of one child process.
//
// A child is started either by forking and running a function in the copy of
// this process (Fork), or by posix_spawn of a program (Spawn). The owner waits
// for it with a timeout (Wait), polls it (TryWait), signals it (Kill), and on
// destruction kills (SIGKILL) and reaps a child that is still running, so a
// child never outlives its owner unnoticed and never stays a zombie.
//
//   SpawnOptions options;
//   options.argv = {"/bin/sh", "-c", "exit 3"};
//   options.stdout_to = FdRedirect::DevNull();
//   SYNCSTREAM_ASSIGN_OR_RETURN(ChildProcess child,
//                               ChildProcess::Spawn(options));
//   SYNCSTREAM_ASSIGN_OR_RETURN(ExitStatus status,
//                               child.Wait(absl::Seconds(5)));
//   // status.ToString() == "exited with status 3"
//
// Waiting uses a pidfd (pidfd_open + poll) where the kernel has one, and
// otherwise waitpid(WNOHANG) with a backoff from 50 us up to 10 ms: no busy
// loop either way.
//
// Rules for the process that owns children:
//  - Nothing else may reap them: do not set SIGCHLD to SIG_IGN, do not call
//    waitpid(-1, ...) or wait(). The pid stays reserved for this owner until
//    it reaps the child, which is what makes Kill() safe against pid reuse.
//  - Fork() in a multi-threaded process copies only the calling thread. The
//    body must not need locks that another thread could have held at the
//    moment of the fork (glibc keeps malloc and stdio usable; a std::mutex of
//    your own is not).
//
// Thread safety: a ChildProcess is not thread-safe; one thread at a time (or
// external locking). Distinct objects are independent.
#ifndef SYNCSTREAM_CORE_CHILD_PROCESS_H_
#define SYNCSTREAM_CORE_CHILD_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream {

// How a child ended (the decoded waitpid status).
struct ExitStatus {
  bool exited = false;    // ended through exit()/_exit(); see `code`
  int code = 0;           // exit status, 0-255 (exited only)
  bool signaled = false;  // ended by a signal; see `signal`
  int signal = 0;         // terminating signal number (signaled only)
  bool core_dumped = false;

  // Decodes a status from waitpid().
  static ExitStatus FromWaitStatus(int wait_status);
  static ExitStatus Exited(int code) { return {true, code, false, 0, false}; }
  static ExitStatus Signaled(int signal) {
    return {false, 0, true, signal, false};
  }

  // Exited with status 0.
  bool success() const { return exited && code == 0; }

  // "exited with status 3", "killed by signal 9 (Killed)",
  // "killed by signal 11 (Segmentation fault), core dumped".
  std::string ToString() const;

  friend bool operator==(const ExitStatus& a, const ExitStatus& b) {
    return a.exited == b.exited && a.code == b.code &&
           a.signaled == b.signaled && a.signal == b.signal;
  }
  friend bool operator!=(const ExitStatus& a, const ExitStatus& b) {
    return !(a == b);
  }
};

// Where one of a spawned child's standard descriptors (0, 1, 2) comes from.
class FdRedirect {
 public:
  // The child inherits the parent's descriptor (the default).
  static FdRedirect Inherit() { return FdRedirect(Kind::kInherit, -1); }
  // The child's descriptor is /dev/null (read-only for stdin, else write).
  static FdRedirect DevNull() { return FdRedirect(Kind::kDevNull, -1); }
  // The child's descriptor is a duplicate of the parent's `fd`. The parent
  // keeps ownership of `fd`; it only has to stay open until Spawn returns.
  static FdRedirect To(int fd) { return FdRedirect(Kind::kFd, fd); }

  FdRedirect() = default;
  bool is_inherit() const { return kind_ == Kind::kInherit; }
  bool is_dev_null() const { return kind_ == Kind::kDevNull; }
  bool is_fd() const { return kind_ == Kind::kFd; }
  int fd() const { return fd_; }

 private:
  enum class Kind { kInherit, kDevNull, kFd };
  FdRedirect(Kind kind, int fd) : kind_(kind), fd_(fd) {}
  Kind kind_ = Kind::kInherit;
  int fd_ = -1;
};

struct SpawnOptions {
  // argv[0] is the program. A name without '/' is searched in PATH (like
  // execvp); a path is used as is. Must not be empty.
  std::vector<std::string> argv;
  // Environment entries ("NAME", "value") set in the child on top of this
  // process's environment (replacing a variable of the same name).
  std::vector<std::pair<std::string, std::string>> env;
  // Start from an empty environment instead of this process's one; `env` is
  // then the whole environment.
  bool clear_env = false;
  // The child's standard descriptors. Applied in the order stdin, stdout,
  // stderr, so `stderr_to = FdRedirect::To(1)` means "2>&1" after the stdout
  // redirection (the shell's `>file 2>&1`).
  FdRedirect stdin_from;
  FdRedirect stdout_to;
  FdRedirect stderr_to;
  // Further descriptors of this process the program keeps, at the same
  // numbers, even if they are close-on-exec here (every other close-on-exec
  // descriptor is closed by exec as usual). Must not be 0, 1 or 2.
  std::vector<int> inherit_fds;
  // Start the program in a process group of its own (its group id is its
  // pid), so that it and the processes it starts can be signalled together
  // with kill(-pid, signal), and a terminal's Ctrl-C reaches only this
  // process, which decides what to forward.
  bool new_process_group = false;
};

class ChildProcess {
 public:
  // Forks; the child runs `body` and ends with _exit(body's return value)
  // after flushing stdio (fflush(nullptr)). The child never returns into the
  // caller's stack, runs no atexit handlers and no static destructors. This
  // process's stdio buffers are flushed before the fork so that the child
  // does not write out a second copy of them.
  static absl::StatusOr<ChildProcess> Fork(std::function<int()> body);

  // Starts a program with posix_spawn. Errors (program not found, not
  // executable, a bad redirect descriptor) are reported here, naming the
  // program, not as an exit status 127.
  static absl::StatusOr<ChildProcess> Spawn(const SpawnOptions& options);

  // An empty owner (no child); pid() is -1.
  ChildProcess() = default;
  // Kills (SIGKILL) and reaps a child that was not reaped yet; see class
  // comment. If the killed child is not gone within 10 s (stuck in an
  // uninterruptible kernel wait), a message goes to stderr and the zombie is
  // left behind rather than hanging the owner.
  ~ChildProcess();

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The child's process id (still reported after it was reaped; then no
  // longer this child's); -1 for an empty owner.
  pid_t pid() const { return pid_; }
  bool valid() const { return pid_ > 0; }
  // Whether the child was reaped (Wait/TryWait returned its status).
  bool reaped() const { return status_.has_value(); }

  // Waits until the child ends, at most `timeout`
  // (absl::InfiniteDuration() = forever, ZeroDuration() = just check).
  // DeadlineExceeded naming the pid if it is still running; the child's
  // status if it ended (again on later calls); FailedPrecondition for an
  // empty owner.
  absl::StatusOr<ExitStatus> Wait(absl::Duration timeout);

  // Without blocking: the status if the child has ended, nullopt if it is
  // still running.
  absl::StatusOr<std::optional<ExitStatus>> TryWait();

  // Sends `signal` to the child. FailedPrecondition if it was already reaped
  // (its pid may belong to another process by now) or the owner is empty.
  // Signalling a child that has ended but is not reaped yet succeeds and does
  // nothing.
  absl::Status Kill(int signal);

 private:
  ChildProcess(pid_t pid, UniqueFd pidfd, std::string name);
  // One non-blocking reap attempt; true once reaped.
  absl::StatusOr<bool> Reap();
  void KillAndReap();

  pid_t pid_ = -1;
  UniqueFd pidfd_;      // -1 where pidfd_open is unavailable
  std::string name_;    // for messages: "child 123 (/bin/sh)"
  std::optional<ExitStatus> status_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_CHILD_PROCESS_H_
