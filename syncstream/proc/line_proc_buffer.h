// LineProcBuffer: the last N lines written by child processes, gathered in
// the parent (the C++ counterpart of sync-stream's LineProcBuffer).
//
//   SYNCSTREAM_ASSIGN_OR_RETURN(auto buffer, LineProcBuffer::Create(10));
//   std::vector<std::unique_ptr<LineProcMirror>> mirrors;
//   std::vector<ChildProcess> children;
//   for (int i = 0; i < 4; ++i) {
//     SYNCSTREAM_ASSIGN_OR_RETURN(auto mirror,
//                                 buffer->NewMirror(absl::StrCat("worker-", i)));
//     LineProcMirror& m = *mirror;
//     SYNCSTREAM_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Fork([&m] {
//       return RunInMirror(m, [&] {
//         ScopedRedirect redirect(m);
//         std::cout << "Message item\n";
//       }).ok() ? 0 : 1;
//     }));
//     mirrors.push_back(std::move(mirror));
//     children.push_back(std::move(child));
//   }
//   SYNCSTREAM_RETURN_IF_ERROR(buffer->Wait(absl::Seconds(10)));
//   for (const Record& r : buffer->Read()) std::cout << r << "\n";
//
// Mirrors. NewMirror(name) registers one mirror and returns it; each call is
// exactly one mirror (no property that counts its own accesses). A mirror
// works in a forked child as is and reaches an exec'd child as a token (see
// line_proc_mirror.h). Spawn() starts a program that knows nothing of
// syncstream with its stdout and stderr captured into a mirror of its own.
//
// Transport. Mirrors batch their records into messages of one shared-memory
// queue (syncstream/queue/sync_queue.h, named `queue_name()`), of which this
// buffer is the only reader. A collector thread of the buffer drains the
// queue as messages arrive, validates each batch (bytes from other processes
// are untrusted; an invalid batch is dropped and reported as a warning
// record), and appends each batch whole to a RecordBlockStore
// (core/record_block_store.h), which decodes a record only when it is read —
// so children never block on a full queue because the parent is busy
// elsewhere. Read() therefore shows what has arrived so far; Wait() first to
// see everything.
//
// Ends of streams. A mirror is open until its end-of-stream or error record
// arrives (closed) or its process is found dead without having closed it
// (died). The collector checks every liveness_interval whether the process
// of each open mirror is alive (pid plus start time, so a reused pid is not
// mistaken for it); for a dead one it first drains everything that process
// sent, then stores an error record from the mirror, type "died":
//   "process 1234 killed by signal 9 (Killed) without closing mirror 'w-2'"
// (exit status or signal when the process is a child of this one; "ended
// (exit status unknown...)" otherwise). A mirror that no process has used yet
// cannot die; Wait() times out naming it ("never opened").
//
// Thread safety: every method may be called from any thread.
#ifndef SYNCSTREAM_PROC_LINE_PROC_BUFFER_H_
#define SYNCSTREAM_PROC_LINE_PROC_BUFFER_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/core/line_assembler.h"
#include "syncstream/core/process_identity.h"
#include "syncstream/core/record.h"
#include "syncstream/core/record_block_store.h"
#include "syncstream/proc/internal/record_batch.h"
#include "syncstream/proc/line_proc_mirror.h"
#include "syncstream/proc/program.h"
#include "syncstream/queue/sync_queue.h"

namespace syncstream {

namespace proc_internal {
struct Channel;
}  // namespace proc_internal

struct LineProcBufferOptions {
  // Capacity of the shared-memory queue from the mirrors to the buffer;
  // 4 MiB holds about 45,000 lines of 64 bytes.
  size_t queue_bytes = 4 << 20;
  // The queue's name; "" picks a unique one ("proc.PID.RANDOM").
  std::string queue_name;
  // Mirror batching: a batch is sent when it holds batch_bytes or
  // batch_records, when its oldest record is flush_interval old, and at once
  // for end-of-stream, errors and warnings. batch_bytes is at most the
  // queue's largest message (about half of queue_bytes).
  size_t batch_bytes = 64 * 1024;
  uint32_t batch_records = 4096;
  absl::Duration flush_interval = absl::Milliseconds(2);
  // How long a mirror waits for queue space before its write fails.
  absl::Duration send_timeout = absl::Seconds(30);
  // Longest line kept whole (line_assembler.h), for every mirror.
  size_t max_line_length = kDefaultMaxLineLength;
  // How often the collector checks that open mirrors' processes are alive.
  absl::Duration liveness_interval = absl::Milliseconds(20);
  // Processes that may use mirrors at the same time (queue slots).
  uint32_t max_mirror_processes = 256;
};

enum class MirrorState {
  kOpen,          // no end-of-stream, error or death seen yet
  kClosed,        // its end-of-stream or error record arrived
  kDied,          // its process ended without closing it
  kForceStopped,  // open when ForceStop() was called
};

// "open", "closed", "died", "force-stopped".
absl::string_view MirrorStateName(MirrorState state);

struct MirrorInfo {
  std::string name;
  MirrorState state = MirrorState::kOpen;
  pid_t pid = 0;  // the process that last used it; 0 if none yet
};

class LineProcBuffer {
 public:
  // A buffer keeping the last `maxlen` records; 0 is InvalidArgument, as are
  // out-of-range options. Creates the queue and the control block, and
  // starts the collector thread.
  static absl::StatusOr<std::unique_ptr<LineProcBuffer>> Create(
      size_t maxlen, LineProcBufferOptions options = {});

  // Kills programs started by Spawn(), stops the collector, and removes the
  // queue and the control block (children still writing get errors).
  ~LineProcBuffer();

  // Removes the control block of the buffer whose queue is `queue_name`
  // (/dev/shm/syncstream-proc.QUEUE), which a buffer killed before its
  // destructor ran leaves beside its queue; `syncstream queue rm` calls it
  // for every queue it removes. NotFound when there is none. Mirrors that
  // start afterwards cannot attach, as once the queue is gone.
  static absl::Status RemoveControlBlock(absl::string_view queue_name);
  // The queue names of the control blocks in /dev/shm, sorted (`syncstream
  // queue ls` reports those whose queue is gone).
  static absl::StatusOr<std::vector<std::string>> ListControlBlocks();
  LineProcBuffer(const LineProcBuffer&) = delete;
  LineProcBuffer& operator=(const LineProcBuffer&) = delete;

  // Registers a mirror named `name` (its sender name; need not be unique)
  // and returns it. Wait() waits for it from now on.
  absl::StatusOr<std::unique_ptr<LineProcMirror>> NewMirror(
      absl::string_view name);

  // Starts a program with its stdout and stderr captured into a new mirror
  // (see program.h: records from "NAME[PID]" of type "stdout"/"stderr", and
  // the exit status as the final record). The buffer owns the program; the
  // pointer stays valid until Reset() or destruction.
  absl::StatusOr<RunningProgram*> Spawn(ProgramOptions options);

  // Blocks until every mirror is closed, died or force-stopped, at most
  // `timeout`. Then every record its mirrors sent is in the buffer.
  // DeadlineExceeded naming the mirrors still open otherwise.
  // FailedPrecondition, once no mirror is open, when a mirror was used by
  // more than one process (one LineProcMirror handed to several forked
  // children): its stream ended when the first of them closed it, so the
  // others' records may still be on their way (also stored as an error
  // record when the second process is seen). When the
  // collector cannot read the queue any more (its segment was damaged), the
  // open mirrors can never be seen closing: DataLoss at once, naming the
  // queue's error and those mirrors (also stored as an error record).
  absl::Status Wait(absl::Duration timeout);

  // Asks every mirror to stop: its next text write fails with
  // FailedPrecondition (its pending partial line is still delivered). The
  // mirrors stay open until their processes close them or end.
  void StopAllMirrors();
  // StopAllMirrors(), and stops waiting: every open mirror becomes
  // force-stopped, so Wait() returns at once. Records that still arrive are
  // kept.
  void ForceStop();

  // Every record held, oldest first.
  std::vector<Record> Read() const { return store_->Read(); }
  // The last `n` records held, oldest first.
  std::vector<Record> Read(size_t n) const { return store_->Read(n); }
  // The number of records held: min(stored since Clear(), maxlen).
  size_t Size() const { return store_->Size(); }
  // Forgets the records held; mirrors are unaffected.
  void Clear() { store_->Clear(); }
  // Followers: see record_block_store.h.
  const RecordBlockStore& store() const { return *store_; }

  // Makes the buffer as new for another round: kills spawned programs,
  // forgets every mirror (mirrors from before stop: their writes fail and
  // whatever they still send is ignored), clears the records and the stop.
  void Reset();

  // The mirrors registered since creation or Reset(), in order.
  std::vector<MirrorInfo> Mirrors() const;

  size_t maxlen() const { return store_->capacity(); }
  const std::string& queue_name() const { return queue_name_; }
  // Invalid batches dropped so far (each also reported as a warning record).
  uint64_t dropped_batches() const { return dropped_batches_.load(); }

 private:
  struct MirrorEntry {
    std::string name;
    MirrorState state = MirrorState::kOpen;
    bool announced = false;  // a process has used it
    ProcessIdentity process;  // the first process that used it
    // Further processes that used it (a mirror shared by forked children).
    std::vector<pid_t> other_pids;
  };
  struct SpawnedProgram;

  LineProcBuffer(std::unique_ptr<RecordBlockStore> store,
                 std::shared_ptr<proc_internal::Channel> channel,
                 QueueParticipant reader, LineProcBufferOptions options);

  void CollectorLoop();
  // Drains up to `max` messages, waiting up to `timeout` for the first.
  absl::StatusOr<size_t> Drain(absl::Duration timeout, size_t max);
  // Handles every message that is in the queue now, waiting up to `timeout`
  // for frames that other writers are still copying in front of them.
  void DrainEverythingQueued(absl::Duration timeout);
  void HandleBatch(const QueueMessageView& message);
  void CheckLiveness();
  void StoreNote(RecordKind kind, std::string sender, std::string type,
                 std::string text);
  std::vector<std::unique_ptr<SpawnedProgram>> TakeSpawned();

  const LineProcBufferOptions options_;
  const std::string queue_name_;
  const pid_t own_pid_;
  const std::unique_ptr<RecordBlockStore> store_;
  const std::shared_ptr<proc_internal::Channel> channel_;
  QueueParticipant reader_;  // used by the collector thread only
  // Held by the collector from reading the generation of a batch to storing
  // its records, and by Reset() from bumping the generation to clearing the
  // store, so no record of an old generation lands after a Reset(). Taken
  // before mutex_ when both are held.
  std::mutex delivery_mutex_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;  // a mirror's state changed
  uint32_t generation_ = 0;          // Reset() count
  std::vector<MirrorEntry> mirrors_;
  std::vector<std::unique_ptr<SpawnedProgram>> spawned_;
  absl::Status read_failure_;  // the collector's, once it cannot read the queue

  std::atomic<uint32_t> current_generation_{0};
  std::atomic<uint64_t> dropped_batches_{0};
  std::atomic<bool> shutdown_{false};
  std::thread collector_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_PROC_LINE_PROC_BUFFER_H_
