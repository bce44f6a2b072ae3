#include "syncstream/core/fd_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/mutex.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream {
namespace {

// Pipe capacity asked for (Linux's default unprivileged maximum), so that
// bursts of output do not block the writers while the reader catches up.
constexpr int kPipeCapacity = 1 << 20;
// One read() and one LineWriter::Write() at most this much.
constexpr size_t kReadChunk = 64 * 1024;
// Bytes read from one pipe before the reader turns to the others.
constexpr size_t kBytesPerTurn = 4 * kReadChunk;

std::string ErrnoText(int error) { return std::strerror(error); }

// Sends what this process still buffers in C stdio and the C++ standard
// streams down the fds.
void FlushProcessBuffers() {
  std::cout.flush();
  std::cerr.flush();
  std::clog.flush();
  std::fflush(nullptr);
}

int Dup2NoIntr(int from, int to) {
  int result;
  do {
    result = ::dup2(from, to);
  } while (result < 0 && errno == EINTR);
  return result;
}

}  // namespace

class ScopedFdCapture::Impl {
 public:
  Impl(LineWriter& writer, FdCaptureOptions options)
      : writer_(writer), options_(std::move(options)), owner_pid_(::getpid()) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Redirects the fds and starts the reader. On error nothing is left
  // redirected and `this` may simply be destroyed.
  absl::Status Start(std::vector<CapturedFd> fds);
  absl::Status Stop();

  // Whether this object was created in this process (false in a child forked
  // while the capture was active).
  bool InCreatingProcess() const { return ::getpid() == owner_pid_; }
  // In a forked child: closes this copy's private fds and leaves everything
  // else alone (the reader thread does not exist here, and the writers'
  // locks may have been held by it at the fork).
  void CloseForkedCopy();

 private:
  struct Channel {
    int fd = -1;
    std::string sender;
    UniqueFd saved;     // the original, put back by Stop()
    UniqueFd read_end;  // the pipe's read end (non-blocking)
    size_t capacity = 0;
    std::unique_ptr<LineWriter::Writer> writer;
    bool eof = false;  // reader only
  };

  std::string Describe(const Channel& channel) const {
    return absl::StrCat("fd capture of fd ", channel.fd, " ('",
                        channel.sender, "')");
  }
  absl::Status AddChannel(const CapturedFd& fd);
  absl::Status RestoreFds();
  void ReadLoop();
  // Reads at most `limit` bytes of what `channel` has now.
  void ReadAvailable(Channel& channel, size_t limit);
  void NoteError(absl::Status status);

  LineWriter& writer_;
  const FdCaptureOptions options_;
  const pid_t owner_pid_;
  std::vector<Channel> channels_;
  UniqueFd wake_read_;   // Stop() writes a byte to start the drain
  UniqueFd wake_write_;
  std::unique_ptr<std::thread> reader_;
  std::vector<char> read_buffer_;  // reader only

  Mutex mutex_;
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mutex_) = absl::InfiniteFuture();
  absl::Status first_error_ ABSL_GUARDED_BY(mutex_);
};

absl::Status ScopedFdCapture::Impl::Start(std::vector<CapturedFd> fds) {
  if (fds.empty()) {
    return absl::InvalidArgumentError("fd capture: no fd to capture");
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    const CapturedFd& fd = fds[i];
    if (fd.fd < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("fd capture: invalid fd ", fd.fd, " ('", fd.sender,
                       "')"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (fds[j].fd == fd.fd) {
        return absl::InvalidArgumentError(
            absl::StrCat("fd capture: fd ", fd.fd, " listed twice"));
      }
    }
    if (::fcntl(fd.fd, F_GETFD) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("fd capture: fd ", fd.fd, " ('", fd.sender,
                       "') is not open: ", ErrnoText(errno)));
    }
  }
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::InternalError(
        absl::StrCat("fd capture: pipe for the reader: ", ErrnoText(errno)));
  }
  wake_read_.Reset(wake[0]);
  wake_write_.Reset(wake[1]);

  FlushProcessBuffers();  // earlier output goes where it was going
  channels_.reserve(fds.size());
  for (const CapturedFd& fd : fds) {
    absl::Status added = AddChannel(fd);
    if (!added.ok()) {
      RestoreFds().IgnoreError();
      channels_.clear();
      return added;
    }
  }
  read_buffer_.resize(kReadChunk);
  try {
    reader_ = std::make_unique<std::thread>([this] { ReadLoop(); });
  } catch (const std::system_error& e) {
    RestoreFds().IgnoreError();
    channels_.clear();
    return absl::ResourceExhaustedError(
        absl::StrCat("fd capture: cannot start the reader thread: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status ScopedFdCapture::Impl::AddChannel(const CapturedFd& fd) {
  Channel channel;
  channel.fd = fd.fd;
  channel.sender = fd.sender;
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) {
    return absl::InternalError(
        absl::StrCat(Describe(channel), ": pipe: ", ErrnoText(errno)));
  }
  channel.read_end.Reset(ends[0]);
  UniqueFd write_end(ends[1]);
  // A larger pipe is an optimization only: keep the default if refused.
  ::fcntl(write_end.get(), F_SETPIPE_SZ, kPipeCapacity);
  int capacity = ::fcntl(write_end.get(), F_GETPIPE_SZ);
  channel.capacity = capacity > 0 ? static_cast<size_t>(capacity) : 65536;
  int flags = ::fcntl(channel.read_end.get(), F_GETFL);
  if (flags < 0 ||
      ::fcntl(channel.read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return absl::InternalError(absl::StrCat(
        Describe(channel), ": making the pipe non-blocking: ", ErrnoText(errno)));
  }
  channel.saved.Reset(::fcntl(fd.fd, F_DUPFD_CLOEXEC, 3));
  if (!channel.saved.valid()) {
    return absl::InternalError(absl::StrCat(
        Describe(channel), ": saving the original: ", ErrnoText(errno)));
  }
  // dup2 clears close-on-exec on the target: children inherit the capture.
  if (Dup2NoIntr(write_end.get(), fd.fd) < 0) {
    return absl::InternalError(
        absl::StrCat(Describe(channel), ": dup2: ", ErrnoText(errno)));
  }
  // `write_end` closes here: the captured fd is now the only write end this
  // process holds.
  channel.writer = writer_.NewWriter(fd.sender, options_.type);
  channels_.push_back(std::move(channel));
  return absl::OkStatus();
}

absl::Status ScopedFdCapture::Impl::RestoreFds() {
  absl::Status status;
  for (Channel& channel : channels_) {
    if (!channel.saved.valid()) continue;
    if (Dup2NoIntr(channel.saved.get(), channel.fd) < 0 && status.ok()) {
      status = absl::InternalError(absl::StrCat(
          Describe(channel), ": restoring the original: ", ErrnoText(errno)));
    }
    channel.saved.Reset();
  }
  return status;
}

void ScopedFdCapture::Impl::NoteError(absl::Status status) {
  if (status.ok()) return;
  MutexLock guard(&mutex_);
  if (first_error_.ok()) first_error_ = std::move(status);
}

void ScopedFdCapture::Impl::ReadAvailable(Channel& channel, size_t limit) {
  size_t total = 0;
  while (total < limit) {
    size_t want = std::min(read_buffer_.size(), limit - total);
    ssize_t got = ::read(channel.read_end.get(), read_buffer_.data(), want);
    if (got > 0) {
      total += static_cast<size_t>(got);
      NoteError(channel.writer->Write(
          absl::string_view(read_buffer_.data(), static_cast<size_t>(got))));
      continue;
    }
    if (got == 0) {
      channel.eof = true;
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    NoteError(absl::InternalError(
        absl::StrCat(Describe(channel), ": read: ", ErrnoText(errno))));
    channel.eof = true;
    return;
  }
}

void ScopedFdCapture::Impl::ReadLoop() {
  bool stopping = false;
  absl::Time deadline = absl::InfiniteFuture();
  std::vector<pollfd> polls;
  std::vector<Channel*> polled;
  for (;;) {
    polls.clear();
    polled.clear();
    if (!stopping) polls.push_back(pollfd{wake_read_.get(), POLLIN, 0});
    for (Channel& channel : channels_) {
      if (channel.eof) continue;
      polls.push_back(pollfd{channel.read_end.get(), POLLIN, 0});
      polled.push_back(&channel);
    }
    if (polled.empty()) return;  // every pipe reached end-of-file

    int timeout_ms = -1;  // until Stop() wakes us
    if (stopping) {
      absl::Duration left = TimeLeft(deadline);
      if (left <= absl::ZeroDuration()) {
        // Someone (a child that inherited a captured fd) still holds a
        // write end. Take what is in the pipes now (at most their capacity)
        // and give up.
        std::vector<std::string> open;
        for (Channel* channel : polled) {
          ReadAvailable(*channel, channel->capacity);
          if (!channel->eof) open.push_back(Describe(*channel));
        }
        if (!open.empty()) {
          NoteError(absl::DeadlineExceededError(absl::StrCat(
              absl::StrJoin(open, ", "),
              ": no end-of-file within the drain timeout of ",
              absl::FormatDuration(options_.drain_timeout),
              " after the fd was restored (a child process that inherited "
              "it is still running?); output written after that is not "
              "captured")));
        }
        return;
      }
      if (left != absl::InfiniteDuration()) {
        timeout_ms = static_cast<int>(std::min<int64_t>(
            absl::ToInt64Milliseconds(left + absl::Milliseconds(1) -
                                      absl::Nanoseconds(1)),
            INT_MAX));
      }
    }
    int ready = ::poll(polls.data(), polls.size(), timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      NoteError(absl::InternalError(
          absl::StrCat("fd capture: poll: ", ErrnoText(errno))));
      return;
    }
    size_t first = 0;
    if (!stopping) {
      first = 1;
      if (polls[0].revents != 0) {
        stopping = true;
        MutexLock guard(&mutex_);
        deadline = drain_deadline_;
      }
    }
    for (size_t i = 0; i < polled.size(); ++i) {
      if (polls[first + i].revents != 0) {
        ReadAvailable(*polled[i], kBytesPerTurn);
      }
    }
  }
}

absl::Status ScopedFdCapture::Impl::Stop() {
  FlushProcessBuffers();
  absl::Status status = RestoreFds();
  {
    MutexLock guard(&mutex_);
    drain_deadline_ = DeadlineAfter(options_.drain_timeout);
  }
  const char byte = 'x';
  ssize_t written;
  do {
    written = ::write(wake_write_.get(), &byte, 1);
  } while (written < 0 && errno == EINTR);
  if (written != 1) {
    // The wake pipe is new and empty: this cannot fail short of memory
    // corruption. Without the wake, the reader would still stop at EOF.
    NoteError(absl::InternalError(
        absl::StrCat("fd capture: waking the reader: ", ErrnoText(errno))));
  }
  reader_->join();
  reader_.reset();
  for (Channel& channel : channels_) {
    NoteError(channel.writer->Flush());
    channel.writer.reset();
    channel.read_end.Reset();
  }
  MutexLock guard(&mutex_);
  return status.ok() ? first_error_ : status;
}

void ScopedFdCapture::Impl::CloseForkedCopy() {
  for (Channel& channel : channels_) {
    channel.saved.Reset();
    channel.read_end.Reset();
  }
  wake_read_.Reset();
  wake_write_.Reset();
}

// --- ScopedFdCapture ---------------------------------------------------------

absl::StatusOr<ScopedFdCapture> ScopedFdCapture::Create(
    LineWriter& writer, CaptureStreams streams, FdCaptureOptions options) {
  std::vector<CapturedFd> fds;
  const std::string prefix =
      writer.options().name_captured_streams ? writer.options().name + "/" : "";
  if (streams != CaptureStreams::kStderr) fds.push_back({1, prefix + "stdout"});
  if (streams != CaptureStreams::kStdout) fds.push_back({2, prefix + "stderr"});
  return CreateForFds(writer, std::move(fds), std::move(options));
}

absl::StatusOr<ScopedFdCapture> ScopedFdCapture::CreateForFds(
    LineWriter& writer, std::vector<CapturedFd> fds,
    FdCaptureOptions options) {
  auto impl = std::make_unique<Impl>(writer, std::move(options));
  absl::Status started = impl->Start(std::move(fds));
  if (!started.ok()) return started;
  return ScopedFdCapture(std::move(impl));
}

ScopedFdCapture::ScopedFdCapture(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

ScopedFdCapture::ScopedFdCapture(ScopedFdCapture&& other) noexcept = default;

ScopedFdCapture& ScopedFdCapture::operator=(ScopedFdCapture&& other) noexcept {
  if (this != &other) {
    Stop().IgnoreError();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

ScopedFdCapture::~ScopedFdCapture() { Stop().IgnoreError(); }

absl::Status ScopedFdCapture::Stop() {
  if (impl_ == nullptr) return absl::OkStatus();
  if (!impl_->InCreatingProcess()) {
    impl_->CloseForkedCopy();
    // The reader thread exists only in the parent, so the copy cannot be
    // destroyed (std::thread would terminate, the writers' locks may be
    // held). Keep it reachable for leak checkers and forget it.
    static auto* forked_copies = new std::vector<std::unique_ptr<Impl>>;
    forked_copies->push_back(std::move(impl_));
    return absl::OkStatus();
  }
  absl::Status status = impl_->Stop();
  impl_.reset();
  return status;
}

}  // namespace syncstream
