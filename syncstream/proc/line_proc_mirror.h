// LineProcMirror: the writing end of a LineProcBuffer, for one child process.
//
// A mirror is made by the parent with LineProcBuffer::NewMirror(name) — one
// call, one mirror, nothing counted behind your back — and used in the child:
//
//  - forked child: use the parent's mirror object as is (fork copies it).
//  - exec'd child: pass token() in argv, or EnvironmentEntry() in the
//    environment; the child re-opens it with LineProcMirror::Attach(token)
//    or LineProcMirror::FromEnvironment().
//
// Its writing side is core's LineWriter (line_writer.h): Write, stream(),
// ScopedRedirect / ScopedFdCapture, SendEof, SendError, SendWarning; each
// thread (and each explicit writer) has its own pending partial line.
//
// Lifetime of the stream. The mirror's first end-of-stream or error record
// closes it (as sync-stream's send_eof / send_error); Close() and the
// destructor send end-of-stream if it was not sent, after delivering every
// writer's pending partial line. A process that never used the mirror (the
// parent's own copy of a forked child's mirror) sends nothing when it
// destroys it. RunInMirror(mirror, fn) runs fn and ends the stream with
// end-of-stream, or with an error record if fn throws; MirrorScope does the
// same for a scope.
//
// Transport. Records are encoded into batches (internal/record_batch.h) and
// appended to the buffer's shared-memory queue (syncstream/queue/), one queue
// message per batch. A batch is sent when it reaches the buffer's batch size
// or record count, when its oldest record is flush_interval old (a timer
// thread started in the writing process), at once for end-of-stream, error
// and warning records, and by Sync(). A full queue makes the sender wait up
// to send_timeout for space, then the write fails with ResourceExhausted.
//
// Stop. After LineProcBuffer::StopAllMirrors() (or ForceStop), the mirror's
// next text write fails with FailedPrecondition; the writer's pending partial
// line is still delivered. SendEof/SendError/Close still work.
//
// Fork rules: fork while no other thread of the parent is writing to the
// mirror you hand to the child (its locks are copied as they are). A child
// that ends without closing its mirror (SIGKILL, abort, _exit) is reported by
// the buffer with an error record naming its pid.
#ifndef SYNCSTREAM_PROC_LINE_PROC_MIRROR_H_
#define SYNCSTREAM_PROC_LINE_PROC_MIRROR_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/core/internal/thread_biased_lock.h"
#include "syncstream/core/line_writer.h"
#include "syncstream/proc/internal/record_batch.h"
#include "syncstream/queue/sync_queue.h"

namespace syncstream {

namespace proc_internal {
struct Channel;
struct MirrorToken;
}  // namespace proc_internal

class LineProcMirror final : public LineWriter {
 public:
  // The environment variable FromEnvironment() reads.
  static constexpr char kEnvironmentVariable[] = "SYNCSTREAM_PROC_MIRROR";

  // Re-opens a mirror in another process from its token(). Errors name the
  // token and the cause (malformed, the buffer is gone, a foreign segment).
  static absl::StatusOr<std::unique_ptr<LineProcMirror>> Attach(
      absl::string_view token);
  // Attach(getenv(kEnvironmentVariable)); NotFound if it is unset.
  static absl::StatusOr<std::unique_ptr<LineProcMirror>> FromEnvironment();

  // Close()s (see the class comment), then stops the timer thread.
  ~LineProcMirror() override;

  const std::string& name() const { return options().name; }
  // A printable string naming this mirror, for argv or the environment.
  const std::string& token() const { return token_; }
  // (kEnvironmentVariable, token()).
  std::pair<std::string, std::string> EnvironmentEntry() const {
    return {kEnvironmentVariable, token_};
  }

  // Announces the calling process as this mirror's writer, so the buffer can
  // report its death even before it writes anything. Writing does the same.
  absl::Status Open();
  // Sends the records batched so far now.
  absl::Status Sync();
  // Delivers every writer's pending partial line and ends the stream with
  // end-of-stream (unless it has ended), then sends. Does nothing in a
  // process that never used the mirror. Idempotent.
  absl::Status Close();
  // Whether the stream has ended in this process (end-of-stream or error).
  bool closed() const;
  // Records of this process that reached the queue (sent batches): what the
  // buffer receives even if this process is killed now.
  uint64_t records_sent() const;

 protected:
  absl::Status AdmitWrite() override;
  absl::Status Publish(const Record& record) override;
  absl::Status PublishLine(const LineView& line) override;

 private:
  friend class LineProcBuffer;
  // The writing state of one process; a forked child starts its own and
  // abandons the copy of its parent's.
  struct ProcessState;

  LineProcMirror(std::shared_ptr<proc_internal::Channel> channel,
                 const proc_internal::MirrorToken& token);

  // Attaches this process to the queue if it is not yet.
  absl::Status EnsureAttachedLocked();
  // Publish with lock_ held.
  absl::Status PublishLocked(const Record& record);
  // Before a record of `size` encoded bytes is added: attaches, refuses a
  // closed stream, sends the batch if the record would overfill it, and
  // starts the batch's clock (waking the timer thread) if it is empty.
  absl::Status PrepareToAddLocked(size_t size);
  // Its work when the stream is not open here, the batch is not started or
  // the record would overfill it.
  absl::Status PrepareToAddSlowLocked(size_t size);
  // After a line was added: sends a full batch, or reports a deferred
  // error of the timer thread.
  absl::Status FinishLineLocked();
  // Sends the pending batch. Without `wait_for_space`, a full queue returns
  // ResourceExhausted at once and keeps the batch (the timer thread's way);
  // otherwise it waits up to send_timeout, and a failure drops the batch.
  absl::Status SendLocked(bool wait_for_space = true);
  void FlusherLoop(ProcessState* state);
  std::string Describe() const;

  const std::shared_ptr<proc_internal::Channel> channel_;
  const uint32_t generation_;
  const uint32_t mirror_id_;
  const std::string token_;
  const size_t max_body_bytes_;
  const size_t batch_bytes_;
  const uint32_t batch_records_;
  // The control block's stop word (see AdmitWrite).
  const std::atomic<uint32_t>& stopped_through_;

  // Guards everything below. Taken once per record: a thread-biased lock
  // (core/internal/thread_biased_lock.h) owned by the thread that attached
  // the process (Open, or its first write: the only writing thread of most
  // processes; see EnsureAttachedLocked), which takes it with plain loads
  // and stores; other threads (the timer thread, further writers) take it
  // as others, and once they have done so kRevokeAfter times it becomes a
  // spin lock (one atomic exchange) for all. The timer thread sleeps on its
  // own mutex and condition variable (in ProcessState).
  static constexpr uint32_t kRevokeAfter = 64;
  mutable internal::ThreadBiasedLock lock_{kRevokeAfter};
  ProcessState* process_ = nullptr;  // this process's, or a parent's copy
  // The pid of process_ while its stream is open (attached, not closed);
  // 0 otherwise. A forked child sees its parent's pid here: not its own.
  pid_t open_pid_ = 0;
  proc_internal::RecordBatchEncoder encoder_;
  // Unix ns when the batch being built got its first record or flag; 0 when
  // nothing is pending. Written under lock_, read by the timer thread
  // without it.
  std::atomic<int64_t> batch_started_ns_{0};
  bool stopped_ = false;         // saw StopAllMirrors
  absl::Status deferred_error_;  // a failed timer send, for the next call
};

// Runs `fn` as the body of `mirror`'s stream in this process: Open(), fn(),
// then Close(); if fn throws, SendError(exception) instead (the exception
// is not rethrown). Returns the status of ending the stream, or the
// exception's description as an Aborted status.
absl::Status RunInMirror(LineProcMirror& mirror,
                         const std::function<void()>& fn);

// The same for a scope: Open() on construction; on destruction Close(),
// or — if the scope is left by an exception — an error record saying so (a
// destructor cannot see the exception itself: prefer RunInMirror, or catch
// and SendError(e) before leaving).
class MirrorScope {
 public:
  explicit MirrorScope(LineProcMirror& mirror);
  ~MirrorScope();
  MirrorScope(const MirrorScope&) = delete;
  MirrorScope& operator=(const MirrorScope&) = delete;

 private:
  LineProcMirror& mirror_;
  const int uncaught_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_PROC_LINE_PROC_MIRROR_H_
