// SyncQueue: creating, opening, listing, attaching, inspecting and
// repairing queues. Layout: internal/layout.h; mapping, validation, lock and
// space bookkeeping: internal/segment.h; the participants' operations:
// queue_participant.cc.
#include "syncstream/queue/sync_queue.h"

#include <signal.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/futex.h"
#include "syncstream/core/process_identity.h"
#include "syncstream/core/shared_memory_names.h"
#include "syncstream/core/internal/thread_biased_lock.h"
#include "syncstream/core/internal/tsc_wall_clock.h"
#include "syncstream/queue/internal/layout.h"
#include "syncstream/queue/internal/segment.h"
#include "syncstream/queue/internal/test_hook.h"

namespace syncstream {

using queue_internal::FrameView;
using queue_internal::ParticipantSlot;
using queue_internal::QueueHeader;
using queue_internal::Segment;
using queue_internal::active_test_hook;
using queue_internal::TestHook;

namespace {

// A participant's append lock (ThreadBiasedLock) becomes a plain spin lock
// once threads other than the attaching one have appended this many times.
constexpr uint32_t kAppendLockRevokeAfter = 64;

absl::Status CheckParticipantName(const Segment& seg, absl::string_view name) {
  if (name.empty() || name.size() > queue_internal::kMaxNameLength ||
      name.find('\0') != absl::string_view::npos) {
    return seg.Error(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("participant name '", name,
                                  "' must have 1 to 63 bytes and no NUL"));
  }
  return absl::OkStatus();
}

std::string SlotName(const ParticipantSlot& s) {
  return std::string(s.name, std::min<size_t>(s.name_length, queue_internal::kMaxNameLength));
}

}  // namespace

namespace queue_internal {

absl::StatusOr<QueueSnapshot> Snapshot(const Segment& seg) {
  const QueueHeader& h = *seg.header();
  QueueSnapshot snap;
  snap.name = seg.name();
  snap.path = absl::StrCat("/dev/shm", seg.shm_name());
  snap.layout_version = h.layout_version;
  snap.segment_bytes = seg.size();
  snap.capacity_bytes = seg.capacity();
  snap.max_participants = seg.max_participants();
  snap.mode = h.mode;
  snap.created = absl::FromUnixNanos(h.created_ns);
  snap.lock_recoveries = h.lock_recoveries;
  snap.abandoned_frames = h.abandoned_frames.load(std::memory_order_relaxed);
  snap.released_participants = h.released_participants;
  uint64_t head = 0;
  uint64_t tail = 0;
  absl::Status positions = seg.LoadPositions("inspect", &head, &tail);
  if (!positions.ok()) return positions;
  // Space is reclaimed lazily (when a writer needs it): what every reader has
  // passed already counts as free.
  uint64_t held_from = tail;
  for (uint32_t i = 0; i < seg.max_participants(); ++i) {
    const ParticipantSlot& s = *seg.slot(i);
    if (s.state.load(std::memory_order_acquire) == queue_internal::kSlotActive &&
        (s.role & queue_internal::kRoleReaderBit)) {
      held_from = std::min(held_from, std::clamp(s.cursor.load(std::memory_order_acquire),
                                                 head, tail));
    }
  }
  snap.tail = tail;
  snap.used_bytes = tail - held_from;
  snap.free_bytes = seg.capacity() - snap.used_bytes;
  snap.head = held_from;
  // Positions of committed messages, to count each reader's lag.
  std::vector<uint64_t> messages;
  for (uint64_t pos = head; pos < tail;) {
    FrameView f;
    absl::Status st = seg.DecodeFrame(pos, tail, &f);
    if (!st.ok()) return st;
    if (f.state == queue_internal::kFrameUnwritten) {
      snap.pending_frames++;  // a claim without its header: its length is unknown yet
      break;
    }
    if (pos < held_from) {
      pos += f.length;  // read by everyone, not yet reclaimed
      continue;
    }
    if (f.state == queue_internal::kFrameCommitted) {
      QueueMessageView view;
      st = seg.DecodePayload(f, &view);
      if (!st.ok()) return st;
      messages.push_back(pos);
      if (!snap.oldest_sequence) snap.oldest_sequence = view.sequence;
      snap.newest_sequence = view.sequence;
    } else if (f.state == queue_internal::kFrameReserved) {
      snap.pending_frames++;
    }
    pos += f.length;
  }
  snap.message_count = messages.size();
  for (uint32_t i = 0; i < seg.max_participants(); ++i) {
    const ParticipantSlot& s = *seg.slot(i);
    if (s.state.load(std::memory_order_acquire) != queue_internal::kSlotActive) continue;
    ParticipantInfo p;
    p.slot = i;
    p.name = SlotName(s);
    const uint32_t role = s.role & 3u;
    p.role = role == 0 ? QueueRole::kBoth : static_cast<QueueRole>(role);
    p.pid = s.pid;
    p.alive = seg.SlotProcessAlive(i);
    p.attached = absl::FromUnixNanos(s.attached_ns);
    p.messages_read = s.messages_read.load(std::memory_order_relaxed);
    if (s.role & queue_internal::kRoleReaderBit) {
      uint64_t cursor = std::clamp(s.cursor.load(std::memory_order_acquire), head, tail);
      p.lag_bytes = tail - cursor;
      p.lag_messages = static_cast<uint64_t>(
          messages.end() - std::lower_bound(messages.begin(), messages.end(), cursor));
    }
    p.filters = std::string(s.filters, strnlen(s.filters, sizeof(s.filters)));
    snap.participants.push_back(std::move(p));
  }
  return snap;
}

}  // namespace queue_internal

absl::string_view QueueRoleName(QueueRole role) {
  switch (role) {
    case QueueRole::kWriter: return "writer";
    case QueueRole::kReader: return "reader";
    case QueueRole::kBoth: return "both";
  }
  return "unknown";
}

// ---------------------------------------------------------------- SyncQueue

SyncQueue::SyncQueue(std::shared_ptr<Segment> segment) : segment_(std::move(segment)) {}
SyncQueue::SyncQueue(SyncQueue&&) noexcept = default;
SyncQueue& SyncQueue::operator=(SyncQueue&&) noexcept = default;
SyncQueue::~SyncQueue() = default;

const std::string& SyncQueue::name() const { return segment_->name(); }
size_t SyncQueue::capacity_bytes() const { return segment_->capacity(); }

size_t SyncQueue::max_body_bytes(size_t sender_length, size_t type_length) const {
  const size_t limit = segment_->capacity() / 2;
  const size_t fixed = queue_internal::kFrameHeaderSize + sender_length + type_length;
  if (fixed >= limit) return 0;
  return (limit - fixed) / queue_internal::kFrameAlign * queue_internal::kFrameAlign;
}

absl::StatusOr<SyncQueue> SyncQueue::Create(absl::string_view name, size_t capacity_bytes,
                                            const QueueOptions& options) {
  auto segment = Segment::Create(name, capacity_bytes, options);
  if (!segment.ok()) return segment.status();
  return SyncQueue(*std::move(segment));
}

absl::StatusOr<SyncQueue> SyncQueue::Open(absl::string_view name) {
  auto segment = Segment::Open(name);
  if (!segment.ok()) return segment.status();
  return SyncQueue(*std::move(segment));
}

absl::StatusOr<SyncQueue> SyncQueue::OpenOrCreate(absl::string_view name, size_t capacity_bytes,
                                                  const QueueOptions& options) {
  absl::Status last;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto created = Create(name, capacity_bytes, options);
    if (created.ok() || !absl::IsAlreadyExists(created.status())) return created;
    auto opened = Open(name);
    if (opened.ok() || !absl::IsNotFound(opened.status())) return opened;
    last = opened.status();  // removed between the two calls: try again
  }
  return last;
}

absl::Status SyncQueue::Remove(absl::string_view name) {
  absl::StatusOr<std::string> shm_name = queue_internal::ShmNameFor(name);
  if (!shm_name.ok()) return shm_name.status();
  return RemoveSharedMemory(*shm_name, absl::StrCat("queue '", name, "': cannot remove"));
}

absl::StatusOr<std::vector<QueueListing>> SyncQueue::List() {
  absl::StatusOr<std::vector<std::string>> names =
      SharedMemoryNames(queue_internal::kShmPrefix);
  if (!names.ok()) return names.status();
  std::vector<QueueListing> out;
  for (const std::string& name : *names) {
    QueueListing item;
    item.name = name;
    auto segment = Segment::Open(name, absl::ZeroDuration());
    if (segment.ok()) {
      item.segment_bytes = (*segment)->size();
      item.capacity_bytes = (*segment)->capacity();
      const Segment::ParticipantCount count = (*segment)->CountParticipants();
      item.participants = static_cast<int>(count.active);
      item.dead_participants = static_cast<int>(count.dead);
    } else {
      item.problem = std::string(segment.status().message());
    }
    out.push_back(std::move(item));
  }
  return out;
}

absl::StatusOr<QueueParticipant> SyncQueue::Attach(absl::string_view participant_name,
                                                   QueueRole role,
                                                   const AttachOptions& options) {
  Segment& seg = *segment_;
  absl::Status st = CheckParticipantName(seg, participant_name);
  if (!st.ok()) return st;
  const uint32_t role_bits = static_cast<uint32_t>(role);
  if (role_bits < 1 || role_bits > 3) {
    return seg.Error(absl::StatusCode::kInvalidArgument, "unknown participant role");
  }
  if (!options.allow_shared_queue && !seg.private_status().ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot attach '", participant_name, "': ", seg.private_status().message(),
        " (AttachOptions::allow_shared_queue, or --allow_shared_queue, attaches anyway)"));
  }
  const ProcessIdentity self = CurrentProcess();
  QueueParticipant p;
  {
    auto lock = seg.Acquire();
    if (!lock.ok()) return lock.status();
    if (active_test_hook == TestHook::kStopHoldingLock) ::raise(SIGSTOP);
    QueueHeader& h = *seg.header();
    if (h.unlinked) {
      return seg.Error(absl::StatusCode::kNotFound,
                       "was closed by its last participant and unlinked; open it again");
    }
    int free_slot = -1;
    for (int pass = 0; pass < 2 && free_slot < 0; ++pass) {
      if (pass == 1) seg.ReleaseDeadLocked(nullptr);
      for (uint32_t i = 0; i < seg.max_participants(); ++i) {
        if (seg.slot(i)->state.load(std::memory_order_relaxed) == queue_internal::kSlotFree) {
          free_slot = static_cast<int>(i);
          break;
        }
      }
    }
    if (free_slot < 0) {
      return seg.Error(absl::StatusCode::kResourceExhausted,
                       absl::StrCat("all ", seg.max_participants(),
                                    " participant slots are taken by live processes"));
    }
    ParticipantSlot& s = *seg.slot(static_cast<uint32_t>(free_slot));
    uint32_t generation = h.next_generation++;
    if (generation == 0) generation = h.next_generation++;
    s.generation = generation;
    s.role = role_bits;
    s.pid = self.pid;
    s.start_time = self.start_time;
    s.attached_ns = absl::ToUnixNanos(::syncstream::Now());
    s.name_length = static_cast<uint32_t>(participant_name.size());
    std::memset(s.name, 0, sizeof(s.name));
    std::memcpy(s.name, participant_name.data(), participant_name.size());
    s.flags = options.screen_own_messages ? 1u : 0u;
    std::memset(s.filters, 0, sizeof(s.filters));
    const uint64_t tail = h.tail.load(std::memory_order_relaxed);
    uint64_t start = tail;  // a late joiner starts at the tail
    if (options.replay_last > 0 && (role_bits & queue_internal::kRoleReaderBit)) {
      // Frames from head on stay in the ring until every reader, this one
      // included, has passed them.
      std::vector<uint64_t> messages;
      for (uint64_t pos = h.head.load(std::memory_order_relaxed); pos < tail;) {
        FrameView f;
        absl::Status decoded = seg.DecodeFrame(pos, tail, &f);
        if (!decoded.ok()) return decoded;
        if (f.state == queue_internal::kFrameUnwritten) break;  // being claimed
        if (f.state == queue_internal::kFrameCommitted) messages.push_back(pos);
        pos += f.length;
      }
      if (!messages.empty()) {
        start = messages[messages.size() - std::min<size_t>(messages.size(), options.replay_last)];
      }
    }
    s.cursor.store(start, std::memory_order_seq_cst);
    s.messages_read.store(0, std::memory_order_relaxed);
    s.reserving.store(queue_internal::kNoReservation, std::memory_order_relaxed);
    s.reserving_end.store(0, std::memory_order_relaxed);
    s.state.store(queue_internal::kSlotActive, std::memory_order_release);
    p.slot_ = free_slot;
    p.generation_ = generation;
    p.cursor_ = start;
    p.published_cursor_ = start;
  }
  p.append_lock_ = std::make_unique<internal::ThreadBiasedLock>(kAppendLockRevokeAfter);
  p.append_lock_->SetOwnerToThisThread();
  p.append_clock_ = std::make_unique<internal::TscWallClock>();
  p.segment_ = segment_;
  p.name_ = std::string(participant_name);
  p.role_ = role;
  p.owner_pid_ = self.pid;
  p.unlink_on_last_close_ = options.unlink_on_last_close;
  if (options.screen_own_messages) p.screened_senders_.push_back(p.name_);
  p.PublishFilters();
  return p;
}

absl::StatusOr<QueueSnapshot> SyncQueue::Inspect() const {
  // Under the lock the snapshot is exact; without it (holder stopped) it is
  // still validated, just possibly mid-change.
  auto lock = segment_->Acquire(absl::Milliseconds(100));
  return queue_internal::Snapshot(*segment_);
}

absl::StatusOr<bool> SyncQueue::RemoveIfOrphaned() {
  Segment& seg = *segment_;
  auto lock = seg.Acquire();
  if (!lock.ok()) return lock.status();
  QueueHeader& h = *seg.header();
  if (h.unlinked) return false;
  const Segment::ParticipantCount count = seg.CountParticipants();
  if (count.active == 0 || count.dead != count.active) return false;
  absl::Status unlinked = seg.UnlinkLocked();
  if (!unlinked.ok()) return unlinked;
  return true;
}

absl::StatusOr<RepairReport> SyncQueue::Repair() {
  Segment& seg = *segment_;
  RepairReport report;
  {
    auto lock = seg.Acquire();
    if (!lock.ok()) return lock.status();
    report.lock_recovered = lock->recovered();
    seg.ReleaseDeadLocked(&report);
    QueueHeader& h = *seg.header();
    const uint64_t tail = h.tail.load(std::memory_order_relaxed);
    uint64_t resolved_at = UINT64_MAX;
    for (uint64_t pos = h.head.load(std::memory_order_relaxed); pos < tail;) {
      FrameView f;
      absl::Status st = seg.DecodeFrame(pos, tail, &f);
      if (!st.ok()) return st;
      if ((f.state == queue_internal::kFrameReserved ||
           f.state == queue_internal::kFrameUnwritten) &&
          resolved_at != pos) {
        resolved_at = pos;
        const uint64_t before = h.abandoned_frames.load(std::memory_order_relaxed);
        absl::StatusOr<bool> abandoned = seg.AbandonIfWriterDead(pos, tail);
        if (!abandoned.ok()) return abandoned.status();
        report.abandoned_frames += h.abandoned_frames.load(std::memory_order_relaxed) - before;
        if (*abandoned) continue;  // decode it again
      }
      if (f.state == queue_internal::kFrameUnwritten) break;  // length unknown yet
      pos += f.length;
    }
    auto reclaimed = seg.ReclaimLocked(h.head.load(std::memory_order_relaxed),
                                       /*probe=*/true, /*step=*/UINT64_MAX, &report);
    if (!reclaimed.ok()) return reclaimed.status();
  }
  EventWord(&seg.header()->data_event).Notify();
  EventWord(&seg.header()->space_event).Notify();
  return report;
}

}  // namespace syncstream
