#include "syncstream/proc/program.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"

namespace syncstream {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kPollMillis = 50;
// After the owner asked to stop and the program was killed, how long the pump
// keeps reading pipes that something else (a grandchild) still holds open.
constexpr absl::Duration kStopGrace = absl::Seconds(1);

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::Status MakePipe(const std::string& what, UniqueFd* read_end,
                      UniqueFd* write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat(
        "program '", what, "': pipe2 failed: ", std::strerror(errno)));
  }
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunningProgram>> RunningProgram::Start(
    LineWriter& sink, ProgramOptions options) {
  if (options.argv.empty()) {
    return absl::InvalidArgumentError("RunningProgram: empty argv");
  }
  if (options.name.empty()) options.name = BaseName(options.argv[0]);
  UniqueFd out_read, out_write, err_read, err_write;
  absl::Status piped = MakePipe(options.name, &out_read, &out_write);
  if (piped.ok()) piped = MakePipe(options.name, &err_read, &err_write);
  if (!piped.ok()) return piped;

  SpawnOptions spawn;
  spawn.argv = options.argv;
  spawn.env = options.env;
  spawn.stdin_from = options.stdin_from;
  spawn.stdout_to = FdRedirect::To(out_write.get());
  spawn.stderr_to = FdRedirect::To(err_write.get());
  spawn.new_process_group = options.new_process_group;
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(spawn);
  if (!child.ok()) return child.status();
  out_write.Reset();
  err_write.Reset();
  return std::unique_ptr<RunningProgram>(
      new RunningProgram(sink, std::move(options), *std::move(child),
                         std::move(out_read), std::move(err_read)));
}

RunningProgram::RunningProgram(LineWriter& sink, ProgramOptions options,
                               ChildProcess child, UniqueFd out, UniqueFd err)
    : sink_(sink),
      options_(std::move(options)),
      pid_(child.pid()),
      sender_(absl::StrCat(options_.name, "[", child.pid(), "]")),
      out_(std::move(out)),
      err_(std::move(err)),
      child_(std::move(child)) {
  pump_ = std::thread([this] { Pump(); });
}

RunningProgram::~RunningProgram() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stop_ = true;
  }
  pump_.join();
}

bool RunningProgram::finished() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return status_.has_value();
}

absl::StatusOr<ExitStatus> RunningProgram::Wait(absl::Duration timeout) {
  absl::Time deadline = DeadlineAfter(timeout);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!status_.has_value()) {
    if (deadline == absl::InfiniteFuture()) {
      finished_cv_.wait(lock);
      continue;
    }
    absl::Duration left = TimeLeft(deadline);
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("program ", sender_, " still running after ",
                       absl::FormatDuration(timeout)));
    }
    finished_cv_.wait_for(lock, absl::ToChronoNanoseconds(left));
  }
  return *status_;
}

absl::Status RunningProgram::Kill(int signal) {
  std::lock_guard<std::mutex> guard(mutex_);
  return KillLocked(signal);
}

absl::Status RunningProgram::KillLocked(int signal) {
  if (child_.reaped()) return absl::OkStatus();
  if (!options_.new_process_group) return child_.Kill(signal);
  // The unreaped leader keeps the group id from being reused.
  if (::kill(-pid_, signal) != 0 && errno != ESRCH) {
    return absl::InternalError(absl::StrCat("program ", sender_,
                                            ": kill(-", pid_, ", ", signal,
                                            "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void RunningProgram::Pump() {
  std::unique_ptr<LineWriter::Writer> writers[2] = {
      sink_.NewWriter(sender_, "stdout"), sink_.NewWriter(sender_, "stderr")};
  pollfd fds[2] = {{out_.get(), POLLIN, 0}, {err_.get(), POLLIN, 0}};
  int open = 2;
  std::unique_ptr<char[]> chunk(new char[kReadChunk]);
  bool killed = false;
  absl::Time give_up = absl::InfiniteFuture();
  auto stop_requested = [this] {
    std::lock_guard<std::mutex> guard(mutex_);
    return stop_;
  };
  auto kill_once = [&] {
    if (killed) return;
    killed = true;
    std::lock_guard<std::mutex> guard(mutex_);
    KillLocked(SIGKILL).IgnoreError();
  };

  while (open > 0) {
    if (stop_requested()) {
      kill_once();
      if (give_up == absl::InfiniteFuture()) give_up = ::syncstream::Now() + kStopGrace;
      if (::syncstream::Now() >= give_up) break;
    }
    int ready = ::poll(fds, 2, kPollMillis);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2 && ready > 0; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, chunk.get(), kReadChunk);
      if (n > 0) {
        writers[i]->Write(absl::string_view(chunk.get(), n)).IgnoreError();
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        fds[i].fd = -1;
        --open;
      }
    }
  }
  out_.Reset();
  err_.Reset();
  writers[0].reset();  // delivers a last line without '\n'
  writers[1].reset();

  ExitStatus status;
  for (;;) {
    if (stop_requested()) kill_once();
    std::lock_guard<std::mutex> guard(mutex_);
    absl::StatusOr<ExitStatus> waited = child_.Wait(absl::Milliseconds(20));
    if (waited.ok()) {
      status = *waited;
      break;
    }
    if (!absl::IsDeadlineExceeded(waited.status())) {
      // Cannot happen for a child we own; report it rather than spin.
      status = ExitStatus::Signaled(0);
      break;
    }
  }

  Record last;
  if (status.success()) {
    last.kind = RecordKind::kEndOfStream;
    last.text = status.ToString();
  } else {
    last.kind = RecordKind::kError;
    last.text = absl::StrCat(sender_, " ", status.ToString());
  }
  sink_.NewWriter(sender_, "exit")->Send(std::move(last)).IgnoreError();
  {
    std::lock_guard<std::mutex> guard(mutex_);
    status_ = status;
  }
  finished_cv_.notify_all();
  if (options_.on_finished) options_.on_finished(status);
}

}  // namespace syncstream
