// ScopedFdCapture: captures file descriptors (stdout, stderr, or any) into a
// LineWriter, line by line, for the lifetime of a scope.
//
// ScopedRedirect (scoped_redirect.h) reaches only std::cout and std::cerr.
// ScopedFdCapture works one level down: each captured fd is pointed (dup2) at
// the write end of a pipe, and a reader thread feeds what arrives to an
// explicit writer of its own (LineWriter::NewWriter, sender "stdout",
// "stderr" or as given). So output of printf, of C libraries, and of child
// programs that inherit the fd is captured too, assembled into lines per fd.
//
//   auto buffer = LineBuffer::Create(1000);
//   {
//     absl::StatusOr<ScopedFdCapture> capture =
//         ScopedFdCapture::Create(**buffer, CaptureStreams::kStdoutAndStderr);
//     if (!capture.ok()) return capture.status();
//     printf("from C\n");
//     system("echo from a child");
//   }  // fds restored; every line written above is in the buffer
//
// Stop (explicit, or by the destructor) does, in this order:
//  1. fflush(nullptr) and flush std::cout/std::cerr, so text still buffered
//     in this process reaches the pipe;
//  2. puts the original fds back (dup2); from here on writes to the fds go
//     where they went before the capture;
//  3. drains the pipes: reads until end-of-file, which comes as soon as no
//     process holds a write end any more. A child that inherited a captured
//     fd and is still running (a daemon, a background job) keeps its write
//     end open: the drain then waits at most `drain_timeout`, reads whatever
//     is in the pipe at that moment, stops reading and Stop() returns
//     DeadlineExceeded. Such a child's later writes are not captured (it gets
//     EPIPE/SIGPIPE once the pipe's read end is closed);
//  4. flushes each fd's pending partial line as a final line.
// So nothing written to a captured fd before Stop() is lost, and Stop() never
// waits longer than `drain_timeout` for other processes.
//
// Rules:
//  - `writer` must outlive the capture, and must not itself write to a
//    captured fd (the reader thread would wait on itself once the pipe fills).
//  - Nested captures of the same fd must end in reverse order of creation.
//  - Threads of this process may write to captured fds concurrently; lines of
//    one fd are assembled in pipe order, so two threads writing partial lines
//    to the same fd can interleave (as on a terminal). A write() of a whole
//    line of at most PIPE_BUF (4096) bytes is never mixed with another.
//  - Fork: a child forked while a capture is active inherits the captured fds
//    (its output goes to the parent's capture) and a copy of this object whose
//    Stop()/destructor does nothing but close the child's copies of the
//    capture's private fds. A child may create captures of its own (the
//    stress harness does so in its workers).
//
// Move-only; a moved-from capture is inactive.
//
// Thread safety: a ScopedFdCapture is not thread-safe (create, Stop() and
// destroy it from one thread at a time, or lock around it), while any number
// of threads and processes may write to the captured fds.
#ifndef SYNCSTREAM_CORE_FD_CAPTURE_H_
#define SYNCSTREAM_CORE_FD_CAPTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/core/line_writer.h"

namespace syncstream {

// One fd to capture and the sender name of its records.
struct CapturedFd {
  int fd = -1;
  std::string sender;
};

enum class CaptureStreams {
  kStdout,           // fd 1 as "stdout"
  kStderr,           // fd 2 as "stderr"
  kStdoutAndStderr,  // both, as two writers
};

struct FdCaptureOptions {
  // How long Stop() waits for end-of-file once the fds are restored (see
  // step 3 above). Only a running child that inherited a captured fd makes
  // it wait at all.
  absl::Duration drain_timeout = absl::Seconds(2);
  // Type tag of the captured records ("" for none).
  std::string type;
};

class ScopedFdCapture {
 public:
  // Captures fd 1 and/or fd 2, as senders "stdout" and "stderr" (prefixed
  // with the writer's name and "/" when its options ask for it:
  // LineWriterOptions::name_captured_streams, set by LineProcMirror). Errors
  // (pipe, dup, thread creation) are returned as a status; on error nothing
  // is left redirected.
  static absl::StatusOr<ScopedFdCapture> Create(
      LineWriter& writer,
      CaptureStreams streams = CaptureStreams::kStdoutAndStderr,
      FdCaptureOptions options = {});
  // Captures the given fds: each must be open, and listed once
  // (InvalidArgument otherwise).
  static absl::StatusOr<ScopedFdCapture> CreateForFds(
      LineWriter& writer, std::vector<CapturedFd> fds,
      FdCaptureOptions options = {});

  ScopedFdCapture(ScopedFdCapture&& other) noexcept;
  // Stops this capture (if active) and takes over `other`'s.
  ScopedFdCapture& operator=(ScopedFdCapture&& other) noexcept;
  ScopedFdCapture(const ScopedFdCapture&) = delete;
  ScopedFdCapture& operator=(const ScopedFdCapture&) = delete;
  // Stop(), ignoring its status.
  ~ScopedFdCapture();

  // Ends the capture as described above. Returns the first problem met while
  // capturing or stopping: a failed restore or read, a writer error, or
  // DeadlineExceeded when the drain timed out. Idempotent: later calls
  // return OK and do nothing.
  absl::Status Stop();

  // Whether this object still has a capture to stop.
  bool active() const { return impl_ != nullptr; }

 private:
  class Impl;
  explicit ScopedFdCapture(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_FD_CAPTURE_H_
