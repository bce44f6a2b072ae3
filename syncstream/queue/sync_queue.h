// SyncQueue: a named broadcast queue in shared memory, for many writer and
// many reader processes (the C++ counterpart of pysyncq).
//
//   // Any process, in any order (creator, forked child, exec'd program,
//   // unrelated process started later):
//   SYNCSTREAM_ASSIGN_OR_RETURN(SyncQueue q,
//                               SyncQueue::OpenOrCreate("jobs", 1 << 20));
//   SYNCSTREAM_ASSIGN_OR_RETURN(QueueParticipant me,
//                               q.Attach("worker-3", QueueRole::kBoth));
//   SYNCSTREAM_RETURN_IF_ERROR(me.Append("result", "42"));
//   SYNCSTREAM_ASSIGN_OR_RETURN(std::optional<QueueMessage> m,
//                               me.Pop({.timeout = absl::Seconds(1)}));
//   ...
//   SYNCSTREAM_RETURN_IF_ERROR(me.Close());  // the last close unlinks
//
// The segment is /dev/shm/syncstream-queue.NAME (mode 0600 unless asked),
// with a fixed capacity in bytes. Layout and validation: internal/layout.h.
//
// Delivery contract
// - Every message is read exactly once by every reader that was attached when
//   it was appended, in append order (so in each writer's order); a reader
//   attached later starts at the then-current tail. Writers need not read.
// - A message's space is freed once every such reader has read it or screened
//   it out. With no reader attached, messages are dropped at once.
// - Each message carries its sender (the participant name), type, body
//   (arbitrary bytes), a queue-wide sequence number (dense, increasing in the
//   order readers read) and a timestamp.
// - A reader screens messages by sender and type; by default it screens its
//   own messages (AttachOptions::screen_own_messages).
//
// Participants that die (SIGKILL at any point) do not wedge the queue:
// - a dead reader's cursor is released when space is needed (and by Repair);
// - a frame claimed by a writer that died before committing (even before it
//   wrote the frame's header) is skipped once the writer is seen dead (pid +
//   process start time, so a reused pid is not the same process), never
//   while it lives;
// - appends take no lock (a compare-and-swap claims the space); the queue
//   lock, taken to attach, close and reclaim space, is a robust
//   process-shared mutex: a holder's death is repaired by the next locker;
// - a process killed while sleeping leaves no state that blocks others.
//
// Waiting spins briefly, naps once (about 20 us, without announcing itself,
// so that writers make no system call for it), then sleeps on a futex;
// notifiers make a system call only when someone sleeps. Every wait takes a timeout
// (absl::ZeroDuration() = do not wait, absl::InfiniteDuration() = forever).
//
// Everything read from the segment is validated: a foreign, truncated,
// corrupted or other-version segment is an error status naming the queue and
// the cause, never a crash or a hang.
//
// Threads: a SyncQueue and Append/AppendBatch of a QueueParticipant may be
// used from any thread. The reading calls (Pop, PopInto, ForEachAvailable,
// MarkAllRead, screening) of one participant must not run concurrently. A
// participant belongs to the process that attached it: a forked child must
// attach its own (its inherited copy refuses to work and does not detach the
// parent's slot on destruction).
#ifndef SYNCSTREAM_QUEUE_SYNC_QUEUE_H_
#define SYNCSTREAM_QUEUE_SYNC_QUEUE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "syncstream/core/spin_wait.h"

namespace syncstream {

namespace internal {
class ThreadBiasedLock;
class TscWallClock;
}  // namespace internal
namespace queue_internal {
class Segment;
}  // namespace queue_internal

enum class QueueRole : uint32_t { kWriter = 1, kReader = 2, kBoth = 3 };

// "writer", "reader", "both".
absl::string_view QueueRoleName(QueueRole role);

struct QueueOptions {
  // Permission bits of the segment.
  mode_t mode = 0600;
  // Participant slots (attached processes or objects), 1..4096.
  uint32_t max_participants = 64;
};

struct AttachOptions {
  // Screen this participant's own messages (pysyncq's default).
  bool screen_own_messages = true;
  // When this participant's Close is the last one, unlink the queue's name
  // (unless Close is asked to keep it).
  bool unlink_on_last_close = true;
  // Readers: start this many messages before the tail instead of at it (as
  // many as are still in the ring), e.g. for `syncstream queue tail -n N`.
  uint32_t replay_last = 0;
  // Attach also to a queue opened (not created) by this process whose
  // segment belongs to another user, or that group or others may write
  // (mode & 022). Off, such a queue is PermissionDenied: whoever can write
  // the segment reads and forges every message, and another local user can
  // create a queue's name before its owner does. Turn it on for a queue
  // shared between users on purpose (QueueOptions::mode).
  bool allow_shared_queue = false;
};

struct AppendOptions {
  // false: a full queue is ResourceExhausted at once.
  // true: wait for space up to `timeout`, then ResourceExhausted.
  bool block = false;
  absl::Duration timeout = absl::Milliseconds(500);  // pysyncq's default timer
};

struct PopOptions {
  // How long to wait for a message; zero returns at once.
  absl::Duration timeout = absl::ZeroDuration();
  // How long a wait may busy-poll for the next message before it sleeps, at
  // most: for the lowest latency where messages follow each other within
  // microseconds. The waiting policy (syncstream/core/spin_wait.h) shortens
  // or skips the spin when this reader's waits are long, when spinning did
  // not pay, or when the machine has no idle core, so that a spinning reader
  // never takes the CPU from the writers it waits for. Zero: only a spin of
  // a few microseconds.
  absl::Duration spin = absl::ZeroDuration();
};

struct CloseOptions {
  // Keep the queue's name even if this is the last participant.
  bool keep = false;
};

// A message as read, owning its bytes.
struct QueueMessage {
  std::string sender;
  std::string type;
  std::string body;
  uint64_t sequence = 0;
  absl::Time timestamp;
};

// A message in place, valid only during the callback that receives it.
struct QueueMessageView {
  absl::string_view sender;
  absl::string_view type;
  absl::string_view body;
  uint64_t sequence = 0;
  absl::Time timestamp;
};

// One message of an AppendBatch.
struct OutgoingMessage {
  absl::string_view type;
  absl::string_view body;
};

// A participant's row in a QueueSnapshot.
struct ParticipantInfo {
  uint32_t slot = 0;
  std::string name;
  QueueRole role = QueueRole::kBoth;
  pid_t pid = 0;
  bool alive = false;
  absl::Time attached;
  uint64_t messages_read = 0;  // readers
  uint64_t lag_messages = 0;   // readers: unread messages (incl. screened)
  uint64_t lag_bytes = 0;      // readers: tail - cursor
  std::string filters;         // "sender:a type:b", "" when none
};

// What `syncstream queue inspect` shows; read without taking the lock.
struct QueueSnapshot {
  std::string name;
  std::string path;  // /dev/shm/...
  uint32_t layout_version = 0;
  uint64_t segment_bytes = 0;
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;   // tail - head
  uint64_t free_bytes = 0;
  uint64_t head = 0;  // the oldest position some reader still needs
  uint64_t tail = 0;
  uint64_t message_count = 0;     // committed messages between head and tail
  uint64_t pending_frames = 0;    // reserved, not yet committed
  std::optional<uint64_t> oldest_sequence;
  std::optional<uint64_t> newest_sequence;
  uint32_t max_participants = 0;
  uint32_t mode = 0;
  absl::Time created;
  uint64_t lock_recoveries = 0;
  uint64_t abandoned_frames = 0;
  uint64_t released_participants = 0;
  std::vector<ParticipantInfo> participants;
};

struct RepairReport {
  bool lock_recovered = false;          // the lock's holder had died
  std::vector<std::string> released;    // "NAME (pid P)" of dead participants
  uint64_t abandoned_frames = 0;        // reserved frames of dead writers
  uint64_t reclaimed_bytes = 0;
};

// An entry of SyncQueue::List().
struct QueueListing {
  std::string name;
  uint64_t segment_bytes = 0;
  uint64_t capacity_bytes = 0;
  int participants = -1;  // -1: unreadable (not a queue, permissions, ...)
  // Of those, the ones whose process is gone (pid + start time). A queue
  // whose participants are all dead is orphaned: nobody is left to unlink
  // it when done (see orphaned()).
  int dead_participants = 0;
  std::string problem;    // why, when participants == -1

  // Every participant's process is gone: the segment stays in /dev/shm
  // until `syncstream queue rm` (or Remove), or until a new participant
  // attaches and later closes it.
  bool orphaned() const { return participants > 0 && dead_participants == participants; }
};

class QueueParticipant;

// A mapping of a named queue. Cheap to move; participants share the mapping.
class SyncQueue {
 public:
  // Creates queue `name` ([A-Za-z0-9._-], 1..200 chars) holding
  // `capacity_bytes` of frames (256 to 2^40, rounded up to a power of two). AlreadyExists if the
  // name is taken. A message's frame (40 bytes + sender + type + body,
  // rounded to 8) may take at most half the capacity.
  static absl::StatusOr<SyncQueue> Create(absl::string_view name,
                                          size_t capacity_bytes,
                                          const QueueOptions& options = {});
  // Opens an existing queue; NotFound if there is none. Never modifies it.
  static absl::StatusOr<SyncQueue> Open(absl::string_view name);
  // Opens `name`, creating it when absent. An existing queue keeps its own
  // capacity and contents.
  static absl::StatusOr<SyncQueue> OpenOrCreate(absl::string_view name,
                                                size_t capacity_bytes,
                                                const QueueOptions& options = {});
  // Unlinks the name (mappings stay valid until closed); NotFound if absent.
  static absl::Status Remove(absl::string_view name);
  // The queues in /dev/shm, by name, with their participants counted and
  // each one's process checked (/proc).
  static absl::StatusOr<std::vector<QueueListing>> List();

  SyncQueue(SyncQueue&&) noexcept;
  SyncQueue& operator=(SyncQueue&&) noexcept;
  ~SyncQueue();

  const std::string& name() const;
  size_t capacity_bytes() const;
  // The largest body Append accepts for a given sender and type length.
  size_t max_body_bytes(size_t sender_length, size_t type_length) const;

  // Takes a participant slot. `participant_name` (1..63 bytes) is the sender
  // name of its messages. A reader starts at the current tail.
  // ResourceExhausted when every slot is held by a live participant;
  // NotFound if the queue was unlinked meanwhile; PermissionDenied for a
  // queue of another user or writable by others (see
  // AttachOptions::allow_shared_queue).
  absl::StatusOr<QueueParticipant> Attach(absl::string_view participant_name,
                                          QueueRole role,
                                          const AttachOptions& options = {});

  // A consistent-enough snapshot read without the lock (counts may be off by
  // in-flight messages). DataLoss if the segment's contents are corrupt.
  absl::StatusOr<QueueSnapshot> Inspect() const;

  // Recovers the lock if its holder died, releases dead participants, marks
  // reserved frames of dead writers abandoned, frees what is read, and wakes
  // every sleeper.
  absl::StatusOr<RepairReport> Repair();
  // Unlinks the queue's name when it is orphaned: it has participants and
  // every one's process is gone (QueueListing::orphaned). Decided under the
  // queue lock, which Attach also takes, so a participant attaching at the
  // same moment either is seen alive (nothing is removed) or finds the
  // queue unlinked (NotFound). Returns whether it unlinked the name; false
  // for a queue with a live participant, with none at all (kept on close),
  // or already unlinked.
  absl::StatusOr<bool> RemoveIfOrphaned();

 private:
  friend class QueueParticipant;
  explicit SyncQueue(std::shared_ptr<queue_internal::Segment> segment);
  std::shared_ptr<queue_internal::Segment> segment_;
};

// One attached participant: the RAII owner of a participant slot. Move-only.
// Destruction closes it (CloseOptions{}), unless it belongs to another process
// (a forked child's inherited copy).
class QueueParticipant {
 public:
  QueueParticipant(QueueParticipant&&) noexcept;
  QueueParticipant& operator=(QueueParticipant&&) noexcept;
  ~QueueParticipant();

  const std::string& name() const { return name_; }
  QueueRole role() const { return role_; }
  bool is_open() const { return slot_ >= 0; }

  // Appends one message (writers). ResourceExhausted when the queue is full
  // (at once, or after options.timeout when options.block; either way only
  // after releasing readers found dead, reading /proc), InvalidArgument
  // when it can never fit, FailedPrecondition for a non-writer.
  absl::Status Append(absl::string_view type, absl::string_view body,
                      const AppendOptions& options = {});
  // Appends several messages in one reservation: all or none, contiguous in
  // the queue's order.
  absl::Status AppendBatch(absl::Span<const OutgoingMessage> messages,
                           const AppendOptions& options = {});

  // The next unscreened message (readers): std::nullopt when none arrived
  // within options.timeout.
  absl::StatusOr<std::optional<QueueMessage>> Pop(const PopOptions& options = {});
  // As Pop, into `*out` (reusing its buffers); false when none arrived.
  absl::StatusOr<bool> PopInto(QueueMessage* out, const PopOptions& options = {});
  // Pops every message available now (waiting up to options.timeout for the
  // first), at most `max_messages`, handing each to `fn` in place. Returns
  // how many were handed over.
  absl::StatusOr<size_t> ForEachAvailable(
      absl::FunctionRef<void(const QueueMessageView&)> fn,
      const PopOptions& options = {}, size_t max_messages = SIZE_MAX);
  // Marks every message appended so far read (pysyncq's `for m in q: pass`).
  // Returns how many were skipped.
  absl::StatusOr<size_t> MarkAllRead();

  // Screening (readers): messages from these senders / of these types are
  // skipped. The participant's own name is screened by default.
  void ScreenSender(absl::string_view sender);
  void UnscreenSender(absl::string_view sender);
  void ScreenType(absl::string_view type);
  void UnscreenType(absl::string_view type);
  // The screened senders and types, each sorted, without duplicates.
  const std::vector<std::string>& screened_senders() const { return screened_senders_; }
  const std::vector<std::string>& screened_types() const { return screened_types_; }

  // Releases the slot. When no live participant remains (dead ones are
  // released first) and neither this participant's AttachOptions nor
  // `options` ask to keep it, the queue's name is unlinked. Later calls do
  // nothing.
  absl::Status Close(const CloseOptions& options = {});

 private:
  friend class SyncQueue;
  QueueParticipant() = default;

  // Why this participant cannot serve a call, or kUsable.
  enum class Usability { kUsable, kClosed, kOtherProcess, kNotReader, kNotWriter, kReleased };
  Usability UsabilityFor(bool want_reader, bool want_writer) const;
  // The status naming a reason other than kUsable.
  absl::Status UsabilityError(Usability usability) const;
  // OK, or UsabilityError of UsabilityFor.
  absl::Status CheckUsable(bool want_reader, bool want_writer) const;
  // Append and AppendBatch.
  absl::Status AppendMessages(absl::Span<const OutgoingMessage> messages,
                              const AppendOptions& options);
  // The next unscreened committed message at or after the cursor, waiting up
  // to `timeout`; `*next_cursor` is the position after it.
  absl::StatusOr<bool> NextMessage(QueueMessageView* view, uint64_t* next_cursor,
                                   absl::Duration timeout, absl::Duration spin);
  // Stores cursor_ (and the read count) in the slot and wakes writers
  // waiting for space, when it moved.
  void PublishCursor();
  bool Screened(absl::string_view sender, absl::string_view type) const;
  void PublishFilters();

  std::shared_ptr<queue_internal::Segment> segment_;
  std::string name_;
  QueueRole role_ = QueueRole::kWriter;
  int slot_ = -1;
  uint32_t generation_ = 0;
  pid_t owner_pid_ = 0;
  bool unlink_on_last_close_ = true;
  uint64_t cursor_ = 0;            // this reader's position (local)
  uint64_t published_cursor_ = 0;  // the cursor as last stored in the slot
  uint64_t unpublished_reads_ = 0;
  uint64_t known_tail_ = 0;  // the last tail this reader loaded
  uint64_t last_claim_end_ = 0;  // where this writer's last claim ended
  // Consecutive waits at the tail that a new message ended while spinning:
  // a dense stream, for which the reader naps instead of spinning.
  int dense_waits_ = 0;
  // Decides the spins of waits with PopOptions::spin (made for the last
  // such value).
  std::optional<SpinPolicy> spin_policy_;
  // Serializes this participant's appends (its slot announces one claim):
  // owned by the thread that attached it (plain loads and stores), taken
  // with a process-wide barrier by other threads until they have taken it
  // often enough to make it a spin lock for all.
  std::unique_ptr<internal::ThreadBiasedLock> append_lock_;
  // The timestamps of its appends (used under append_lock_).
  std::unique_ptr<internal::TscWallClock> append_clock_;
  // Sorted, without duplicates: searched for every message read.
  std::vector<std::string> screened_senders_;
  std::vector<std::string> screened_types_;
  // A reserved frame under the cursor: when it was first seen, to probe its
  // writer's liveness only after a while.
  uint64_t stuck_position_ = UINT64_MAX;
  absl::Time stuck_since_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_QUEUE_SYNC_QUEUE_H_
