// Segment: the mapping of one queue's shared memory, its validation, its
// lock, frame decoding and the space bookkeeping done under the lock.
// Internal to syncstream/queue; the public contract is in ../sync_queue.h.
#ifndef SYNCSTREAM_QUEUE_INTERNAL_SEGMENT_H_
#define SYNCSTREAM_QUEUE_INTERNAL_SEGMENT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/queue/internal/layout.h"
#include "syncstream/queue/internal/test_hook.h"
#include "syncstream/queue/sync_queue.h"

namespace syncstream::queue_internal {

// "/syncstream-queue.NAME" after checking NAME.
absl::StatusOr<std::string> ShmNameFor(absl::string_view name);

// A frame decoded at a position, every field checked against the segment.
struct FrameView {
  uint64_t position = 0;
  uint32_t state = 0;    // FrameState; kFrameUnwritten: claimed, no header yet
  uint32_t length = 0;   // 0 when unwritten
  FrameHeader* header = nullptr;  // reserved, committed and abandoned frames
};

class Segment {
 public:
  // How long Open waits for a creator to finish initializing a new segment.
  static constexpr absl::Duration kInitWait = absl::Seconds(2);
  // How long any lock acquisition waits (the lock is held for microseconds).
  static constexpr absl::Duration kLockTimeout = absl::Seconds(2);
  // LoadPositions gives up after this many loads of a head that moves.
  static constexpr int kMaxPositionLoads = 1000;

  static absl::StatusOr<std::shared_ptr<Segment>> Create(
      absl::string_view name, size_t capacity_bytes, const QueueOptions& options);
  static absl::StatusOr<std::shared_ptr<Segment>> Open(
      absl::string_view name, absl::Duration init_wait = kInitWait);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  const std::string& name() const { return name_; }
  const std::string& shm_name() const { return shm_name_; }
  uint64_t size() const { return size_; }
  uint64_t capacity() const { return capacity_; }
  uint32_t max_participants() const { return max_participants_; }
  QueueHeader* header() const { return header_; }
  ParticipantSlot* slot(uint32_t i) const { return slots_ + i; }
  uint8_t* ring() const { return ring_; }
  // The lap of a position (what a frame word there must carry).
  uint32_t LapOf(uint64_t position) const {
    return static_cast<uint32_t>(position >> capacity_shift_);
  }
  FrameHeader* FrameAt(uint64_t position) const {
    return reinterpret_cast<FrameHeader*>(ring_ + (position & (capacity_ - 1)));
  }

  // OK when the segment belongs to this user and neither group nor others
  // may write it, or when this process created it; else why not
  // (PermissionDenied), as found when it was opened.
  const absl::Status& private_status() const { return private_status_; }

  // "queue 'NAME': MESSAGE" with the given code.
  absl::Status Error(absl::StatusCode code, absl::string_view message) const;
  // DataLoss for positions that break head <= tail <= head + capacity (or
  // are not frame-aligned), as `who` loaded them: the message also carries
  // what the header and every taken slot hold now (cursors, claims with
  // their flags, the lock's recoveries), so that a report from the field
  // says how the queue got there. Reads no /proc.
  absl::Status CorruptPositions(absl::string_view who, uint64_t head, uint64_t tail) const;
  // Whether head <= tail <= head + capacity, both frame-aligned.
  bool PositionsValid(uint64_t head, uint64_t tail) const {
    return head <= tail && tail - head <= capacity_ && (head | tail) % kFrameAlign == 0;
  }
  // Loads head, then tail (acquire each: head never passes a published
  // tail) into a pair that PositionsValid accepts. Without the queue lock a
  // process descheduled between the two loads can find the tail laps past
  // the head it loaded, once others have appended and reclaimed meanwhile:
  // the pair is then loaded again. CorruptPositions (naming `who`) when
  // head did not move, or kept moving for kMaxPositionLoads loads (each
  // retry means others appended a lap while this process was not running:
  // a head that never settles is a segment someone scribbles on).
  absl::Status LoadPositions(absl::string_view who, uint64_t* head, uint64_t* tail) const {
    for (int loads = 1;; ++loads) {
      *head = header_->head.load(std::memory_order_acquire);
      if (active_test_hook == TestHook::kStopBetweenPositions) StopOnceForTest();
      *tail = header_->tail.load(std::memory_order_acquire);
      if (ABSL_PREDICT_TRUE(PositionsValid(*head, *tail))) return absl::OkStatus();
      if (header_->head.load(std::memory_order_acquire) == *head ||
          loads == kMaxPositionLoads) {
        return CorruptPositions(who, *head, *tail);
      }
    }
  }

  // The queue lock, held while alive. Move-only.
  class Lock {
   public:
    Lock(Lock&& other) noexcept : segment_(other.segment_), recovered_(other.recovered_) {
      other.segment_ = nullptr;
    }
    Lock& operator=(Lock&&) = delete;
    ~Lock();
    // The previous holder died; the lock was made consistent.
    bool recovered() const { return recovered_; }

   private:
    friend class Segment;
    Lock(Segment* segment, bool recovered) : segment_(segment), recovered_(recovered) {}
    Segment* segment_;
    bool recovered_;
  };
  absl::StatusOr<Lock> Acquire(absl::Duration timeout = kLockTimeout);

  // Decodes the frame at `position` given the published `tail`. DataLoss
  // naming the problem when anything is out of bounds or unknown. A frame
  // word of another lap is kFrameUnwritten (a claim whose header is not
  // written yet), not an error.
  absl::Status DecodeFrame(uint64_t position, uint64_t tail, FrameView* out) const;
  // The payload of a committed or reserved frame, checked.
  absl::Status DecodePayload(const FrameView& frame, QueueMessageView* out) const;
  // The readers' common case of DecodeFrame + DecodePayload, inline: a
  // committed frame of this lap at `position` (< `tail`) whose length and
  // payload lengths pass the same checks. Fills `*out` and `*length` and
  // returns true; returns false for anything else (padding, abandoned,
  // reserved, unwritten, or invalid), and the caller then takes the full
  // path, which reports what is wrong.
  bool DecodeCommitted(uint64_t position, uint64_t tail, QueueMessageView* out,
                       uint32_t* length) const {
    if (position >= tail || tail - position > capacity_ || position % kFrameAlign) return false;
    const uint64_t offset = position & (capacity_ - 1);
    const auto* header = reinterpret_cast<const FrameHeader*>(ring_ + offset);
    const uint64_t word = header->word.load(std::memory_order_acquire);
    if (FrameWordState(word) != kFrameCommitted || FrameWordLap(word) != LapOf(position)) {
      return false;
    }
    const uint64_t frame_length = FrameWordLength(word);
    const uint64_t to_lap_end = capacity_ - offset;
    const uint64_t available = tail - position < to_lap_end ? tail - position : to_lap_end;
    if (frame_length < kFrameHeaderSize || frame_length > available) return false;
    // Each length is read once: the bytes are another process's.
    const uint64_t body = header->body_length;
    const uint64_t type = header->type_length;
    const uint64_t sender = header->sender_length;
    if (kFrameHeaderSize + sender + type + body > frame_length) return false;
    const char* p = reinterpret_cast<const char*>(header) + kFrameHeaderSize;
    out->sender = absl::string_view(p, sender);
    out->type = absl::string_view(p + sender, type);
    out->body = absl::string_view(p + sender + type, body);
    out->sequence = header->sequence;
    out->timestamp = absl::FromUnixNanos(header->timestamp_ns);
    *length = static_cast<uint32_t>(frame_length);
    return true;
  }

  // Whether the writer that reserved `frame` may still commit it.
  bool WriterMayBeAlive(const FrameHeader& frame) const;

  // For a reserved or unwritten frame at `position` (< `tail`): when its
  // writer is gone, marks it abandoned (an unwritten claim: the hole up to
  // the end its dead claimant announced, or padding to the lap's end) and
  // returns true; returns false while its writer may still write it. An
  // unwritten frame no writer announces, or whose dead claimants disagree,
  // is DataLoss. Reads /proc: call it only for a frame stuck for a while.
  // Safe against racing resolvers (compare-and-swap on the frame word).
  absl::StatusOr<bool> AbandonIfWriterDead(uint64_t position, uint64_t tail);
  // Whether the participant in slot `i` is alive (pid + start time).
  bool SlotProcessAlive(uint32_t i) const;
  // How many participant slots are taken.
  uint32_t CountActive() const;
  // How many slots are taken, and how many of those by a process that is
  // gone (SlotProcessAlive: reads /proc for each).
  struct ParticipantCount {
    uint32_t active = 0;
    uint32_t dead = 0;
  };
  ParticipantCount CountParticipants() const;
  // Under the lock: marks the queue unlinked (an Attach through an existing
  // mapping then fails) and unlinks its name; a name already gone is fine.
  absl::Status UnlinkLocked();

  // How far past what a writer needs one reclaim moves space_end (layout.h),
  // by default. The bytes it adds are zeroed under the queue lock, so this
  // bounds what an Append that reclaims does while it holds the lock,
  // whatever the capacity.
  static constexpr uint64_t kReclaimStep = uint64_t{128} << 10;

  // Under the lock: moves head forward over frames every reader has passed
  // (jumping over those below every writer's unfinished claim, walking the
  // rest, abandoning reserved frames of dead writers when `probe`), then
  // space_end to max(needed_end, space_end + step), or head + capacity if
  // that is less, zeroing the bytes it adds before it publishes it
  // (layout.h); when that is not enough to make [tail, needed_end)
  // claimable and `probe`, releases dead readers and tries again. `step` =
  // UINT64_MAX hands out all the space there is. Returns whether needed_end
  // <= space_end. DataLoss when head, tail or space_end are inconsistent.
  absl::StatusOr<bool> ReclaimLocked(uint64_t needed_end, bool probe,
                                     uint64_t step = kReclaimStep,
                                     RepairReport* report = nullptr);
  // Under the lock: whether liveness probes (reading /proc) are due; they
  // run at most every 10 ms per queue while it is full.
  bool ProbeDueLocked();
  // Under the lock: releases every participant whose process is gone, once
  // the claim it announced (if a writer) is no unclosed hole.
  void ReleaseDeadLocked(RepairReport* report);

 private:
  // A writer's announced claim [start, end) (layout.h, ParticipantSlot).
  struct Claim {
    uint64_t start = 0;
    uint64_t end = 0;
    bool confirmed = false;
    bool finished = false;  // every frame of it committed
  };
  // Reads slot `i`'s claim; false while it changes under us.
  bool ReadClaim(uint32_t i, Claim* out) const;
  // Under the lock: the lowest position in [head, limit] at or above which
  // a writer may still be writing, judged from the writers' announced
  // claims alone (every frame in [head, result) is committed, padding or
  // abandoned). `head` itself when a claim is changing or implausible.
  uint64_t CompleteBelowLocked(uint64_t head, uint64_t limit) const;
  // Whether `c` is a plausible claim below `tail` that covers `position`.
  bool Covers(const Claim& c, uint64_t position, uint64_t tail) const;
  // Under the lock: zeroes the ring's bytes of positions [begin, end), whose
  // previous lap every reader has passed (end - begin <= capacity).
  void ZeroRangeLocked(uint64_t begin, uint64_t end);
  // Under the lock, for a dead writer's slot `i`: closes what is left
  // unwritten of its claim; false when that cannot be decided yet.
  bool CloseDeadClaimLocked(uint32_t i);

  Segment() = default;
  absl::Status MapAndValidate(int fd, absl::Duration init_wait);

  std::string name_;
  std::string shm_name_;
  absl::Status private_status_;
  void* base_ = nullptr;
  uint64_t size_ = 0;
  uint64_t capacity_ = 0;
  uint32_t capacity_shift_ = 0;  // log2(capacity_)
  uint32_t max_participants_ = 0;
  QueueHeader* header_ = nullptr;
  ParticipantSlot* slots_ = nullptr;
  uint8_t* ring_ = nullptr;
};

// A snapshot of `segment` read without its lock, every field validated
// (SyncQueue::Inspect takes the lock first when it can).
absl::StatusOr<QueueSnapshot> Snapshot(const Segment& segment);

}  // namespace syncstream::queue_internal

#endif  // SYNCSTREAM_QUEUE_INTERNAL_SEGMENT_H_
