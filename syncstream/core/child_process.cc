#include "syncstream/core/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/status_macros.h"

extern char** environ;

namespace syncstream {
namespace {

std::string ErrnoText(int error) { return strerror(error); }

// A pidfd for `pid`, or an invalid UniqueFd where the kernel has none.
UniqueFd OpenPidFd(pid_t pid) {
#ifdef SYS_pidfd_open
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
#endif
  return UniqueFd();
}

// posix_spawn file actions and attributes, destroyed on scope exit.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

const char* StdName(int target) {
  switch (target) {
    case 0: return "stdin";
    case 1: return "stdout";
    default: return "stderr";
  }
}

absl::Status AddRedirect(const std::string& program, const FdRedirect& redirect,
                         int target, posix_spawn_file_actions_t* actions) {
  int rc = 0;
  if (redirect.is_inherit()) return absl::OkStatus();
  if (redirect.is_dev_null()) {
    rc = posix_spawn_file_actions_addopen(
        actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0);
  } else {
    if (redirect.fd() < 0 || fcntl(redirect.fd(), F_GETFD) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("spawn '", program, "': ", StdName(target),
                       " redirected to fd ", redirect.fd(),
                       ", which is not an open descriptor"));
    }
    // dup2(fd, fd) also clears close-on-exec (glibc >= 2.29, POSIX issue 411).
    rc = posix_spawn_file_actions_adddup2(actions, redirect.fd(), target);
  }
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("spawn '", program, "': ",
                                            StdName(target),
                                            " redirect: ", ErrnoText(rc)));
  }
  return absl::OkStatus();
}

// The child's environment: this process's (unless cleared) with `env` set.
std::vector<std::string> BuildEnvironment(const SpawnOptions& options) {
  std::vector<std::string> result;
  if (!options.clear_env) {
    for (char** entry = environ; entry != nullptr && *entry != nullptr;
         ++entry) {
      absl::string_view text(*entry);
      absl::string_view name = text.substr(0, text.find('='));
      bool replaced = std::any_of(
          options.env.begin(), options.env.end(),
          [&](const auto& kv) { return kv.first == name; });
      if (!replaced) result.emplace_back(text);
    }
  }
  for (const auto& [name, value] : options.env) {
    result.push_back(absl::StrCat(name, "=", value));
  }
  return result;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (std::string& s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

}  // namespace

// --- ExitStatus --------------------------------------------------------------

ExitStatus ExitStatus::FromWaitStatus(int wait_status) {
  ExitStatus status;
  if (WIFEXITED(wait_status)) {
    status.exited = true;
    status.code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    status.signaled = true;
    status.signal = WTERMSIG(wait_status);
#ifdef WCOREDUMP
    status.core_dumped = WCOREDUMP(wait_status);
#endif
  }
  return status;
}

std::string ExitStatus::ToString() const {
  if (exited) return absl::StrCat("exited with status ", code);
  if (signaled) {
    const char* description = strsignal(signal);
    return absl::StrCat("killed by signal ", signal, " (",
                        description != nullptr ? description : "unknown", ")",
                        core_dumped ? ", core dumped" : "");
  }
  return "still running";
}

// --- ChildProcess ------------------------------------------------------------

ChildProcess::ChildProcess(pid_t pid, UniqueFd pidfd, std::string name)
    : pid_(pid), pidfd_(std::move(pidfd)), name_(std::move(name)) {}

ChildProcess::~ChildProcess() { KillAndReap(); }

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      name_(std::move(other.name_)),
      status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    name_ = std::move(other.name_);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

void ChildProcess::KillAndReap() {
  if (pid_ <= 0 || status_.has_value()) return;
  ::kill(pid_, SIGKILL);
  absl::StatusOr<ExitStatus> status = Wait(absl::Seconds(10));
  if (!status.ok()) {
    fprintf(stderr, "syncstream: %s: not reaped after SIGKILL: %s\n",
            name_.c_str(), status.status().ToString().c_str());
  }
}

absl::StatusOr<ChildProcess> ChildProcess::Fork(std::function<int()> body) {
  if (!body) return absl::InvalidArgumentError("fork: empty body");
  // Anything buffered now would otherwise be written by both processes.
  fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("fork: ", ErrnoText(errno)));
  }
  if (pid == 0) {
    int code = 255;
    try {
      code = body();
    } catch (...) {
      static const char kMessage[] =
          "syncstream: uncaught exception in a forked child\n";
      (void)!write(2, kMessage, sizeof(kMessage) - 1);
    }
    fflush(nullptr);
    _exit(code);
  }
  return ChildProcess(pid, OpenPidFd(pid),
                      absl::StrCat("child ", pid, " (forked)"));
}

absl::StatusOr<ChildProcess> ChildProcess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return absl::InvalidArgumentError("spawn: empty argv");
  }
  const std::string& program = options.argv[0];
  SpawnSetup setup;
  SYNCSTREAM_RETURN_IF_ERROR(
      AddRedirect(program, options.stdin_from, 0, setup.actions()));
  SYNCSTREAM_RETURN_IF_ERROR(
      AddRedirect(program, options.stdout_to, 1, setup.actions()));
  SYNCSTREAM_RETURN_IF_ERROR(
      AddRedirect(program, options.stderr_to, 2, setup.actions()));
  for (int fd : options.inherit_fds) {
    if (fd <= 2 || fcntl(fd, F_GETFD) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("spawn '", program, "': inherit_fds names fd ", fd,
                       ", which is a standard or closed descriptor"));
    }
    int rc = posix_spawn_file_actions_adddup2(setup.actions(), fd, fd);
    if (rc != 0) {
      return absl::InternalError(absl::StrCat(
          "spawn '", program, "': keeping fd ", fd, ": ", ErrnoText(rc)));
    }
  }
  // The program starts with default signal dispositions and an empty signal
  // mask, whatever this process ignores or blocks (SIGPIPE, say).
  sigset_t all_signals, no_signals;
  sigfillset(&all_signals);
  sigemptyset(&no_signals);
  posix_spawnattr_setsigdefault(setup.attr(), &all_signals);
  posix_spawnattr_setsigmask(setup.attr(), &no_signals);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (options.new_process_group) {
    posix_spawnattr_setpgroup(setup.attr(), 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(setup.attr(), flags);

  std::vector<std::string> argv_strings = options.argv;
  std::vector<std::string> env_strings = BuildEnvironment(options);
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<char*> envp = CStrings(env_strings);

  fflush(nullptr);
  pid_t pid = -1;
  const bool search_path = program.find('/') == std::string::npos;
  int rc = search_path ? posix_spawnp(&pid, program.c_str(), setup.actions(),
                                      setup.attr(), argv.data(), envp.data())
                       : posix_spawn(&pid, program.c_str(), setup.actions(),
                                     setup.attr(), argv.data(), envp.data());
  if (rc != 0) {
    absl::Status (*make)(absl::string_view) =
        rc == ENOENT   ? absl::NotFoundError
        : rc == EACCES ? absl::PermissionDeniedError
                       : absl::InternalError;
    return make(absl::StrCat("spawn '", program, "': ", ErrnoText(rc)));
  }
  return ChildProcess(pid, OpenPidFd(pid),
                      absl::StrCat("child ", pid, " (", program, ")"));
}

absl::StatusOr<bool> ChildProcess::Reap() {
  if (status_.has_value()) return true;
  int wait_status = 0;
  pid_t rc;
  do {
    rc = waitpid(pid_, &wait_status, WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    return absl::InternalError(
        absl::StrCat(name_, ": waitpid: ", ErrnoText(errno),
                     errno == ECHILD ? " (reaped by someone else?)" : ""));
  }
  if (rc == 0) return false;
  status_ = ExitStatus::FromWaitStatus(wait_status);
  pidfd_.Reset();
  return true;
}

absl::StatusOr<std::optional<ExitStatus>> ChildProcess::TryWait() {
  if (!valid()) return absl::FailedPreconditionError("no child process");
  SYNCSTREAM_ASSIGN_OR_RETURN(bool done, Reap());
  if (!done) return std::optional<ExitStatus>();
  return status_;
}

absl::StatusOr<ExitStatus> ChildProcess::Wait(absl::Duration timeout) {
  if (!valid()) return absl::FailedPreconditionError("no child process");
  const absl::Time deadline = DeadlineAfter(timeout);
  absl::Duration backoff = absl::Microseconds(50);
  while (true) {
    SYNCSTREAM_ASSIGN_OR_RETURN(bool done, Reap());
    if (done) return *status_;
    const absl::Duration left = TimeLeft(deadline);
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          name_, ": still running after ", absl::FormatDuration(timeout)));
    }
    if (pidfd_.valid()) {
      // Readable once the child has ended. Millisecond resolution: round
      // up so that we never spin on a zero timeout.
      int timeout_ms = -1;
      if (left != absl::InfiniteDuration()) {
        timeout_ms = static_cast<int>(std::min<int64_t>(
            absl::ToInt64Milliseconds(left + absl::Milliseconds(1) -
                                      absl::Nanoseconds(1)),
            1 << 30));
      }
      struct pollfd pfd = {pidfd_.get(), POLLIN, 0};
      int rc = poll(&pfd, 1, timeout_ms);
      if (rc < 0 && errno != EINTR) {
        return absl::InternalError(
            absl::StrCat(name_, ": poll on pidfd: ", ErrnoText(errno)));
      }
    } else {
      absl::SleepFor(std::min(backoff, left));
      backoff = std::min(backoff * 2, absl::Milliseconds(10));
    }
  }
}

absl::Status ChildProcess::Kill(int signal) {
  if (!valid()) return absl::FailedPreconditionError("no child process");
  if (status_.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": already reaped (", status_->ToString(),
                     "); not signalling a pid that may be reused"));
  }
  if (::kill(pid_, signal) != 0) {
    return absl::InternalError(absl::StrCat(name_, ": kill(", signal,
                                            "): ", ErrnoText(errno)));
  }
  return absl::OkStatus();
}

}  // namespace syncstream
