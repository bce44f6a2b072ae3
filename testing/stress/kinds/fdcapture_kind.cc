// Stress kind "fdcapture": worker processes (fork or exec) write plain lines
// to their stdout; the parent gathers them with ScopedFdCapture
// (syncstream/core/fd_capture.h) into one LineBuffer.
//
// One capture, and so one pipe and one writer, per worker. Capturing the
// parent's own fd 1 once and letting every worker inherit it would put all
// workers on one pipe: a write() of at most PIPE_BUF bytes is atomic, but a
// line written in several write() calls (stdio flushing a full buffer
// mid-line, a long line, a worker that writes pieces) interleaves with other
// workers' bytes and the parent cannot tell them apart any more. So for
// worker w the session opens a placeholder descriptor (/dev/null), captures
// it with its own ScopedFdCapture (sender "worker-w"), and makes it the
// worker's stdout. Line assembly then happens per worker, as for any writer.
//
// Even workers write with stdio (fputs + fflush), odd workers with write(2),
// each line in two write() calls at a varying point.
//
// Kills: supported. Commit point: the write()/fflush() that completed the
// line returned; the bytes are then in the pipe, which the parent drains
// after the worker died. A killed worker's partial line is flushed as its
// final (truncated) line.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "syncstream/core/fd_capture.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/thread/line_buffer.h"
#include "syncstream/core/posix_io.h"
#include "testing/stress/store_collector.h"
#include "testing/stress/kind.h"

namespace syncstream::stress {
namespace {

constexpr absl::string_view kStdioToken = "stdio";
constexpr absl::string_view kWriteToken = "write";

// Lines to stdout through stdio, flushed after each line.
class StdioChannel : public WorkerChannel {
 public:
  absl::Status WriteLine(absl::string_view line) override {
    if (fwrite(line.data(), 1, line.size(), stdout) != line.size() ||
        fflush(stdout) != 0) {
      return absl::InternalError(
          absl::StrCat("stdout (stdio): ", strerror(errno)));
    }
    return absl::OkStatus();
  }
  absl::Status Close() override {
    if (fflush(stdout) != 0) {
      return absl::InternalError(
          absl::StrCat("stdout (stdio): ", strerror(errno)));
    }
    return absl::OkStatus();
  }
};

// Lines to fd 1 with write(2), each in two pieces.
class SplitWriteChannel : public WorkerChannel {
 public:
  absl::Status WriteLine(absl::string_view line) override {
    const size_t cut = 1 + (lines_++ * 7919) % (line.size() - 1);
    SYNCSTREAM_RETURN_IF_ERROR(WriteAll(1, line.substr(0, cut), "stdout"));
    return WriteAll(1, line.substr(cut), "stdout");
  }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  uint64_t lines_ = 0;
};

absl::StatusOr<std::unique_ptr<WorkerChannel>> ChannelFor(
    absl::string_view token) {
  if (token == kStdioToken) return std::make_unique<StdioChannel>();
  if (token == kWriteToken) return std::make_unique<SplitWriteChannel>();
  return absl::InvalidArgumentError(
      absl::StrCat("fdcapture: unknown worker token '", token, "'"));
}

absl::string_view TokenFor(int worker) {
  return worker % 2 == 0 ? kStdioToken : kWriteToken;
}

class FdCaptureSession : public Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Start(
      const SessionSettings& settings) {
    LineBufferOptions options;
    options.name = "fdcapture";
    options.max_line_length = settings.line_length + 1;
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::unique_ptr<LineBuffer> buffer,
        LineBuffer::Create(settings.buffer_lines, options));
    return std::unique_ptr<Session>(
        new FdCaptureSession(std::move(buffer), settings));
  }

  ~FdCaptureSession() override {
    // Captures feed the buffer: stop them before it goes.
    for (ScopedFdCapture& capture : captures_) (void)capture.Stop();
  }

  absl::Status PrepareWorker(int worker, WorkerLaunch* launch) override {
    UniqueFd placeholder(open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (!placeholder.valid()) {
      return absl::InternalError(
          absl::StrCat("fdcapture: open /dev/null: ", strerror(errno)));
    }
    FdCaptureOptions options;
    options.drain_timeout = absl::Seconds(30);
    SYNCSTREAM_ASSIGN_OR_RETURN(
        ScopedFdCapture capture,
        ScopedFdCapture::CreateForFds(
            *buffer_,
            std::vector<CapturedFd>{
                CapturedFd{placeholder.get(), absl::StrCat("worker-", worker)}},
            options));
    // The placeholder now is the pipe's write end. Keep it away from exec'd
    // workers other than this one (it becomes their fd 1 through dup2).
    fcntl(placeholder.get(), F_SETFD, FD_CLOEXEC);
    launch->token = std::string(TokenFor(worker));
    launch->stdout_to = FdRedirect::To(placeholder.get());
    placeholders_.push_back(std::move(placeholder));
    captures_.push_back(std::move(capture));
    return absl::OkStatus();
  }

  // Fork mode, in the child: its stdout is its pipe already; close the
  // copies of every worker's pipe end so that none is kept open by others.
  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenChannel(
      int worker) override {
    for (UniqueFd& fd : placeholders_) close(fd.Release());
    return ChannelFor(TokenFor(worker));
  }

  absl::Status Drain(absl::Duration timeout) override {
    absl::Status first;
    // Each Stop() restores the placeholder, reads the pipe to end-of-file
    // (the worker is gone) and flushes the worker's pending partial line.
    for (ScopedFdCapture& capture : captures_) {
      absl::Status stopped = capture.Stop();
      if (first.ok() && !stopped.ok()) first = stopped;
    }
    placeholders_.clear();
    SYNCSTREAM_RETURN_IF_ERROR(first);
    SYNCSTREAM_RETURN_IF_ERROR(buffer_->Close());
    return collector_.Drain(timeout);
  }

 private:
  FdCaptureSession(std::unique_ptr<LineBuffer> buffer,
                   const SessionSettings& settings)
      : buffer_(std::move(buffer)), collector_("fdcapture", &buffer_->store(), settings.sink) {}

  std::unique_ptr<LineBuffer> buffer_;
  StoreCollector collector_;
  std::vector<UniqueFd> placeholders_;
  std::vector<ScopedFdCapture> captures_;
};

class FdCaptureKind : public Kind {
 public:
  absl::string_view name() const override { return "fdcapture"; }
  absl::string_view description() const override {
    return "worker processes print to stdout, one ScopedFdCapture (pipe) per "
           "worker into one LineBuffer; commit point: the write()/fflush() "
           "completing the line returned";
  }
  bool Supports(SpawnMode mode) const override {
    return mode == SpawnMode::kFork || mode == SpawnMode::kExec;
  }
  bool SupportsKill() const override { return true; }
  absl::StatusOr<std::unique_ptr<Session>> StartSession(
      const SessionSettings& settings) override {
    return FdCaptureSession::Start(settings);
  }
  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenExecChannel(
      int worker, absl::string_view token) override {
    return ChannelFor(token);
  }
};

SYNCSTREAM_REGISTER_STRESS_KIND(FdCaptureKind);

}  // namespace
}  // namespace syncstream::stress
