// QueueParticipant: appending, reading, screening and closing. The queue's
// layout: internal/layout.h; mapping, validation, lock and space
// bookkeeping: internal/segment.h; attaching: sync_queue.cc.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/futex.h"
#include "syncstream/core/process_identity.h"
#include "syncstream/core/internal/copy_short.h"
#include "syncstream/core/internal/sanitizers.h"
#include "syncstream/core/internal/thread_biased_lock.h"
#include "syncstream/core/internal/tsc_wall_clock.h"
#include "syncstream/core/spin_wait.h"
#include "syncstream/queue/internal/layout.h"
#include "syncstream/queue/internal/segment.h"
#include "syncstream/queue/internal/test_hook.h"
#include "syncstream/queue/sync_queue.h"

#if SYNCSTREAM_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace syncstream {

using queue_internal::FrameHeader;
using queue_internal::FrameView;
using queue_internal::active_test_hook;
using queue_internal::ParticipantSlot;
using queue_internal::QueueHeader;
using queue_internal::Segment;
using queue_internal::TestHook;

namespace {

// Busy-wait iterations (a few microseconds), then one nap, before sleeping
// on the futex.
constexpr int kSpinIterations = 50;
// Claims smaller than this are padded to a cache line's end when other
// writers are appending too.
constexpr uint64_t kLineAlignClaimsBelow = 4096;
// A reader that found nothing after spinning naps this long (plus the
// kernel's timer slack) without announcing itself, before it sleeps until
// woken. During a stream of appends the nap ends with a run of messages to
// consume: the reader leaves the CPU to the writers (on a machine with
// fewer cores than processes, a reader spinning or yielding stays runnable
// and takes its share of a core from them), and the writers make no wake-up
// system call, since nobody announced a sleep.
constexpr absl::Duration kReaderNap = absl::Microseconds(20);
// A reader whose last this many waits at the tail each ended with a message
// while it spun is following a dense stream: it naps at once instead of
// spinning. Spinning at the tail of a dense stream keeps taking the tail's
// cache line from the writers (whose claim is a compare-and-swap on it:
// each poll of the tail between two appends costs the next append a cache
// line transfer) and, on a machine with fewer cores than processes, takes
// the CPU from them; a nap lets a batch build up and reads it in one run.
// One-way latency of such a stream rises to the nap's length; a stream with
// gaps longer than the spin never counts as dense.
constexpr int kDenseAfterWaits = 4;
// A reserved frame under a reader's cursor for this long gets its writer's
// liveness probed.
constexpr absl::Duration kStuckProbeAfter = absl::Milliseconds(2);
// Sleep slices, so that dead participants are noticed without a wake-up.
constexpr absl::Duration kReaderSlice = absl::Milliseconds(200);
constexpr absl::Duration kStuckSlice = absl::Milliseconds(5);
constexpr absl::Duration kWriterSlice = absl::Milliseconds(10);

// ForEachAvailable publishes its cursor (freeing space for writers) at least
// every this many messages.
constexpr size_t kPublishEvery = 64;

// One compare-and-swap of the (tail, next_sequence) pair: when it equals
// (*tail, *sequence), it becomes (new_tail, new_sequence) and true is
// returned; otherwise (*tail, *sequence) receive its current value. A full
// barrier (the reservation's release, and the acquire of what it read).
bool TailCompareExchange(QueueHeader* h, uint64_t* tail, uint64_t* sequence,
                         uint64_t new_tail, uint64_t new_sequence) {
  static_assert(offsetof(QueueHeader, next_sequence) == offsetof(QueueHeader, tail) + 8,
                "tail pair layout");
#if defined(__x86_64__)
  // The instruction itself, not __sync_val_compare_and_swap: sanitizers
  // (TSan) emulate 16-byte atomics with a lock of their own process, which
  // other processes do not take.
  bool swapped;
  uint64_t lo = *tail;
  uint64_t hi = *sequence;
#if SYNCSTREAM_TSAN
  // ThreadSanitizer does not see this instruction: say what it is, a
  // release and an acquire of the tail, which readers load as an atomic
  // (what they then read of the claim, zeroed by ReclaimLocked before the
  // space_end this writer loaded, is ordered after that zeroing through it).
  __tsan_release(&h->tail);
#endif
  asm volatile("lock cmpxchg16b (%[pair])"
               : "=@ccz"(swapped), "+a"(lo), "+d"(hi)
               : [pair] "r"(&h->tail), "b"(new_tail), "c"(new_sequence)
               : "memory");
#if SYNCSTREAM_TSAN
  __tsan_acquire(&h->tail);
#endif
  if (!swapped) {
    *tail = lo;
    *sequence = hi;
  }
  return swapped;
#else
#if !defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16)
#error "the queue needs a 16-byte compare-and-swap"
#endif
  using Pair = unsigned __int128;
  auto* word = reinterpret_cast<Pair*>(&h->tail);
  const Pair expected = (Pair{*sequence} << 64) | *tail;
  const Pair desired = (Pair{new_sequence} << 64) | new_tail;
  const Pair old = __sync_val_compare_and_swap(word, expected, desired);
  if (old == expected) return true;
  *tail = static_cast<uint64_t>(old);
  *sequence = static_cast<uint64_t>(old >> 64);
  return false;
#endif
}

}  // namespace

// --------------------------------------------------------- QueueParticipant

QueueParticipant::QueueParticipant(QueueParticipant&& other) noexcept { *this = std::move(other); }

QueueParticipant& QueueParticipant::operator=(QueueParticipant&& other) noexcept {
  if (this == &other) return *this;
  Close().IgnoreError();
  segment_ = std::move(other.segment_);
  name_ = std::move(other.name_);
  role_ = other.role_;
  slot_ = std::exchange(other.slot_, -1);
  generation_ = other.generation_;
  owner_pid_ = other.owner_pid_;
  unlink_on_last_close_ = other.unlink_on_last_close_;
  cursor_ = other.cursor_;
  published_cursor_ = other.published_cursor_;
  unpublished_reads_ = other.unpublished_reads_;
  known_tail_ = other.known_tail_;
  last_claim_end_ = other.last_claim_end_;
  dense_waits_ = other.dense_waits_;
  append_lock_ = std::move(other.append_lock_);
  append_clock_ = std::move(other.append_clock_);
  screened_senders_ = std::move(other.screened_senders_);
  screened_types_ = std::move(other.screened_types_);
  stuck_position_ = other.stuck_position_;
  stuck_since_ = other.stuck_since_;
  return *this;
}

QueueParticipant::~QueueParticipant() { Close().IgnoreError(); }

inline QueueParticipant::Usability QueueParticipant::UsabilityFor(bool want_reader,
                                                                  bool want_writer) const {
  if (slot_ < 0) return Usability::kClosed;
  if (owner_pid_ != CachedPid()) return Usability::kOtherProcess;
  const uint32_t bits = static_cast<uint32_t>(role_);
  if (want_reader && !(bits & queue_internal::kRoleReaderBit)) return Usability::kNotReader;
  if (want_writer && !(bits & queue_internal::kRoleWriterBit)) return Usability::kNotWriter;
  const ParticipantSlot& s = *segment_->slot(static_cast<uint32_t>(slot_));
  if (s.state.load(std::memory_order_relaxed) != queue_internal::kSlotActive ||
      s.generation != generation_) {
    return Usability::kReleased;
  }
  return Usability::kUsable;
}

absl::Status QueueParticipant::UsabilityError(Usability usability) const {
  switch (usability) {
    case Usability::kUsable:
      break;
    case Usability::kClosed:
      return absl::FailedPreconditionError(
          absl::StrCat("participant '", name_, "' is closed"));
    case Usability::kOtherProcess:
      return segment_->Error(absl::StatusCode::kFailedPrecondition,
                             absl::StrCat("participant '", name_, "' belongs to pid ",
                                          owner_pid_, "; attach again in this process"));
    case Usability::kNotReader:
      return segment_->Error(absl::StatusCode::kFailedPrecondition,
                             absl::StrCat("participant '", name_, "' is not a reader"));
    case Usability::kNotWriter:
      return segment_->Error(absl::StatusCode::kFailedPrecondition,
                             absl::StrCat("participant '", name_, "' is not a writer"));
    case Usability::kReleased:
      return segment_->Error(absl::StatusCode::kFailedPrecondition,
                             absl::StrCat("participant '", name_,
                                          "' was released (repair or rm while attached?)"));
  }
  return absl::OkStatus();
}

// Inline, with the statuses built out of line: it runs on every append.
inline absl::Status QueueParticipant::CheckUsable(bool want_reader, bool want_writer) const {
  const Usability usability = UsabilityFor(want_reader, want_writer);
  if (ABSL_PREDICT_TRUE(usability == Usability::kUsable)) return absl::OkStatus();
  return UsabilityError(usability);
}

// Append and AppendBatch each inline this one implementation, so that in
// Append, where the span holds one message, the compiler folds its loops.
__attribute__((always_inline)) inline absl::Status QueueParticipant::AppendMessages(
    absl::Span<const OutgoingMessage> messages, const AppendOptions& options) {
  absl::Status usable = CheckUsable(false, true);
  if (!usable.ok()) return usable;
  if (messages.empty()) return absl::OkStatus();
  // Indexed without Span's checked operator[] (out of line in hardened
  // builds of Abseil): every index below is < messages.size().
  const OutgoingMessage* const message = messages.data();
  Segment& seg = *segment_;
  QueueHeader& h = *seg.header();
  const uint64_t capacity = seg.capacity();
  const uint64_t mask = capacity - 1;  // the capacity is a power of two
  const uint64_t limit = capacity / 2;
  // Frame sizes; the batch must fit in half the ring so it always can.
  constexpr size_t kInline = 16;
  uint32_t inline_sizes[kInline];
  std::vector<uint32_t> heap_sizes;
  uint32_t* sizes = inline_sizes;
  if (messages.size() > kInline) {
    heap_sizes.resize(messages.size());
    sizes = heap_sizes.data();
  }
  uint64_t total = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    const size_t f = queue_internal::FrameSize(name_.size(), message[i].type.size(),
                                               message[i].body.size());
    if (f == 0 || f > limit) {
      return seg.Error(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("a message of type length ", message[i].type.size(),
                                    " and body length ", message[i].body.size(),
                                    " cannot fit (at most ", limit,
                                    " bytes per frame, half the capacity)"));
    }
    sizes[i] = static_cast<uint32_t>(f);
    total += f;
  }
  if (total > limit) {
    return seg.Error(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("a batch of ", total, " bytes exceeds half the capacity (",
                                  limit, ")"));
  }
  // One claim per participant slot at a time: its `reserving` words name it.
  internal::ThreadBiasedLock::Guard serial(*append_lock_);
  const int64_t now_ns = append_clock_->NowNs();
  ParticipantSlot& me = *seg.slot(static_cast<uint32_t>(slot_));
  EventWord space(&h.space_event);
  absl::Time deadline = absl::InfinitePast();
  bool prepared = false;
  uint32_t space_epoch = 0;
  // Every try loads the pair after head. (Expecting, without a load, the
  // pair this participant's last claim left made one writer with one reader
  // half as fast, measured: its reader then kept finding claimed frames not
  // yet written, and waited on their cache lines while the writer wrote
  // them. The pair a failed compare-and-swap hands back is not used either:
  // it was read before the next head, which may have passed it since.)
  uint64_t tail = 0;
  uint64_t sequence = 0;
  bool stopped_before_claim = false;  // test hook
  uint64_t end = 0;
  uint64_t line_padding = 0;
  for (;;) {
    uint64_t head = 0;
    absl::Status positions = seg.LoadPositions("append", &head, &tail);
    if (!positions.ok()) return positions;
    // After tail (acquire): at least the space_end that tail's claim saw. The
    // claim must also stay below head + capacity, which bounds a corrupt one.
    const uint64_t space_end = h.space_end.load(std::memory_order_acquire);
    sequence = h.next_sequence.load(std::memory_order_relaxed);  // checked by the CAS
    end = tail;
    for (size_t i = 0; i < messages.size(); ++i) {
      const uint64_t room = capacity - (end & mask);
      if (room < sizes[i]) end += room;
      end += sizes[i];
    }
    // Another writer claimed since our last claim: end this one on a cache
    // line, so that the next claim, likely another core's, shares no line
    // with it (the last frame takes the padding).
    line_padding = 0;
    if (tail != last_claim_end_ && total < kLineAlignClaimsBelow) {
      line_padding = queue_internal::AlignUp(end, 64) - end;
      end += line_padding;
    }
    if (end - head <= capacity && end <= space_end) {
      // Announce the claim (start, then end: see layout.h), make it, then
      // confirm it (dead claimants' holes are closed up to their end).
      me.reserving.store(tail, std::memory_order_release);
      me.reserving_end.store(end, std::memory_order_release);
      const uint64_t claimed = tail;
      if (active_test_hook == TestHook::kStopAroundLostRace && !stopped_before_claim) {
        stopped_before_claim = true;
        ::raise(SIGSTOP);
      }
      if (TailCompareExchange(&h, &tail, &sequence, end,
                                              sequence + messages.size())) {
        me.reserving_end.store(end | queue_internal::kClaimConfirmed,
                               std::memory_order_release);
        break;
      }
      // Lost the race: withdraw the announcement (a reader must not wait
      // for a claim that is not ours) and look again.
      me.reserving_end.store(claimed, std::memory_order_release);
      if (active_test_hook == TestHook::kStopAroundLostRace) ::raise(SIGSTOP);
      continue;
    }
    // Short of space: move head and space_end under the lock (once per
    // Segment::kReclaimStep bytes appended while readers keep up).
    bool fits = false;
    {
      auto lock = seg.Acquire();
      if (!lock.ok()) return lock.status();
      auto r = seg.ReclaimLocked(end, /*probe=*/false);
      if (!r.ok()) return r.status();
      fits = *r;
      // A non-blocking append reports "full" to its caller at once: it
      // first looks whether a dead reader holds the space, whenever the
      // last probe was. (A blocking one waits in slices and probes at the
      // rate ProbeDueLocked allows; a reader that died just after such a
      // probe must not make the next non-blocking append fail.)
      if (!fits && (!options.block || seg.ProbeDueLocked())) {
        r = seg.ReclaimLocked(end, /*probe=*/true);
        if (!r.ok()) return r.status();
        fits = *r;
      }
    }
    if (fits) continue;
    if (!options.block) {
      return seg.Error(absl::StatusCode::kResourceExhausted,
                       absl::StrCat("full: ", end - tail, " bytes do not fit in ", capacity,
                                    " (readers have not read the rest)"));
    }
    if (deadline == absl::InfinitePast()) deadline = DeadlineAfter(options.timeout);
    const absl::Duration left = TimeLeft(deadline);
    if (left <= absl::ZeroDuration()) {
      return seg.Error(absl::StatusCode::kResourceExhausted,
                       absl::StrCat("still full after ", absl::FormatDuration(options.timeout)));
    }
    if (!prepared) {
      // Announce ourselves, then look once more before sleeping.
      space_epoch = space.Prepare();
      prepared = true;
      continue;
    }
    space.Wait(space_epoch, std::min(left, kWriterSlice));
    prepared = false;
  }
  sizes[messages.size() - 1] += static_cast<uint32_t>(line_padding);
  last_claim_end_ = end;
  // The claim's compare-and-swap was a full barrier: a reader that announced
  // its sleep before it is seen here (and is woken once the frames are
  // committed); one that announced it after sees the new tail.
  EventWord data(&h.data_event);
  const bool sleepers_at_claim = (h.data_event.load(std::memory_order_seq_cst) & 1u) != 0;
  const TestHook hook = active_test_hook;
  if (hook == TestHook::kStopAfterClaim) ::raise(SIGSTOP);
  if (hook == TestHook::kPauseAfterClaim) ::usleep(50);
  // Reserved headers first, any padding word after them (a reader that sees
  // the padding then sees the frame behind it), then payloads and commits.
  uint64_t pos = tail;
  uint64_t padding_at = UINT64_MAX;
  for (size_t i = 0; i < messages.size(); ++i) {
    const uint64_t room = capacity - (pos & mask);
    if (room < sizes[i]) {
      padding_at = pos;
      pos += room;
    }
    FrameHeader* f = seg.FrameAt(pos);
    f->sequence = sequence + i;
    f->timestamp_ns = now_ns;
    f->body_length = static_cast<uint32_t>(message[i].body.size());
    f->type_length = static_cast<uint16_t>(message[i].type.size());
    f->sender_length = static_cast<uint8_t>(name_.size());
    f->flags = 0;
    f->writer_slot = static_cast<uint16_t>(slot_);
    f->reserved = 0;
    f->writer_generation = generation_;
    if (hook == TestHook::kStopMidHeader && i == 0) ::raise(SIGSTOP);
    f->word.store(queue_internal::MakeFrameWord(queue_internal::kFrameReserved, sizes[i],
                                                seg.LapOf(pos)),
                  std::memory_order_release);
    pos += sizes[i];
  }
  if (padding_at != UINT64_MAX) {
    seg.FrameAt(padding_at)
        ->word.store(queue_internal::MakeFrameWord(queue_internal::kFramePadding,
                                                   capacity - (padding_at & mask),
                                                   seg.LapOf(padding_at)),
                     std::memory_order_release);
  }
  if (hook == TestHook::kStopAfterReserve) ::raise(SIGSTOP);
  pos = tail;
  for (size_t i = 0; i < messages.size(); ++i) {
    const uint64_t room = capacity - (pos & mask);
    if (room < sizes[i]) pos += room;
    FrameHeader* f = seg.FrameAt(pos);
    char* p = reinterpret_cast<char*>(f) + queue_internal::kFrameHeaderSize;
    internal::CopyShort(p, name_.data(), name_.size());
    p += name_.size();
    internal::CopyShort(p, message[i].type.data(), message[i].type.size());
    p += message[i].type.size();
    internal::CopyShort(p, message[i].body.data(), message[i].body.size());
    f->word.store(queue_internal::MakeFrameWord(queue_internal::kFrameCommitted, sizes[i],
                                                seg.LapOf(pos)),
                  std::memory_order_release);
    pos += sizes[i];
  }
  if (hook == TestHook::kStopAfterCommit) ::raise(SIGSTOP);
  // The claim is finished: space reclaiming may jump over it (layout.h).
  me.reserving_end.store(end | queue_internal::kClaimFlags, std::memory_order_release);
  // Also a reader that went to sleep on one of these frames while they were
  // being written. No fence here: such a sleeper that announced itself in
  // the last nanoseconds may be missed, and it sleeps in short slices
  // (kStuckSlice) for that reason.
  if (sleepers_at_claim || data.HasSleepers()) data.Notify();
  return absl::OkStatus();
}

absl::Status QueueParticipant::Append(absl::string_view type, absl::string_view body,
                                      const AppendOptions& options) {
  const OutgoingMessage message{type, body};
  return AppendMessages(absl::MakeConstSpan(&message, 1), options);
}

absl::Status QueueParticipant::AppendBatch(absl::Span<const OutgoingMessage> messages,
                                           const AppendOptions& options) {
  return AppendMessages(messages, options);
}

namespace {

// Whether `sorted` (sorted, no duplicates) holds `key`. The usual one or
// two entries are compared by length and first byte before their bytes.
inline bool SortedContains(const std::vector<std::string>& sorted, absl::string_view key) {
  if (sorted.size() > 4) {
    return std::binary_search(sorted.begin(), sorted.end(), key, std::less<>());
  }
  for (const std::string& s : sorted) {
    if (s.size() == key.size() && (key.empty() || s[0] == key[0]) &&
        std::memcmp(s.data(), key.data(), key.size()) == 0) {
      return true;
    }
  }
  return false;
}

// Adds `key` to `sorted`, keeping it sorted and without duplicates.
void SortedInsert(std::vector<std::string>* sorted, absl::string_view key) {
  auto it = std::lower_bound(sorted->begin(), sorted->end(), key, std::less<>());
  if (it == sorted->end() || *it != key) sorted->emplace(it, key);
}

// Removes `key` from `sorted`, if there.
void SortedErase(std::vector<std::string>* sorted, absl::string_view key) {
  auto it = std::lower_bound(sorted->begin(), sorted->end(), key, std::less<>());
  if (it != sorted->end() && *it == key) sorted->erase(it);
}

}  // namespace

// Per message, inline in the reading loops.
// The screened names are sorted vectors rather than std::sets: they are
// searched for every message read, and walking a set's nodes took about a
// fifth of a reader's time (33 more instructions per message read).
inline bool QueueParticipant::Screened(absl::string_view sender, absl::string_view type) const {
  return (!screened_senders_.empty() && SortedContains(screened_senders_, sender)) ||
         (!screened_types_.empty() && SortedContains(screened_types_, type));
}

void QueueParticipant::PublishCursor() {
  if (published_cursor_ == cursor_ && unpublished_reads_ == 0) return;
  ParticipantSlot& s = *segment_->slot(static_cast<uint32_t>(slot_));
  if (unpublished_reads_ != 0) {
    s.messages_read.store(s.messages_read.load(std::memory_order_relaxed) + unpublished_reads_,
                          std::memory_order_relaxed);
    unpublished_reads_ = 0;
  }
  if (published_cursor_ == cursor_) return;
  published_cursor_ = cursor_;
  // seq_cst: pairs with a writer's EventWord::Prepare before it looks at the
  // cursors again (see core/futex.h).
  s.cursor.store(cursor_, std::memory_order_seq_cst);
  EventWord(&segment_->header()->space_event).Notify();
}

absl::StatusOr<bool> QueueParticipant::NextMessage(QueueMessageView* view, uint64_t* next_cursor,
                                                   absl::Duration timeout, absl::Duration spin) {
  Segment& seg = *segment_;
  QueueHeader& h = *seg.header();
  EventWord data(&h.data_event);
  absl::Time deadline = absl::InfinitePast();
  int spins = 0;
  bool napped = false;
  // Whether this call waited at the tail (nothing claimed past the cursor).
  bool waited_at_tail = false;
  // The policy spin (PopOptions::spin): when the wait began, how long it
  // spun, and whether the spin ended without a message. Recorded in the
  // policy when a message ends the wait.
  int64_t wait_start_ns = -1;
  absl::Duration policy_spin = absl::ZeroDuration();
  bool policy_spin_failed = false;
  auto record_wait = [&] {
    if (wait_start_ns < 0 || !spin_policy_) return;
    spin_policy_->Record(absl::Nanoseconds(spin_wait_internal::MonotonicNs() - wait_start_ns),
                         policy_spin, policy_spin_failed);
  };
  for (;;) {
    // Frames below a tail once seen stay valid until this reader passes
    // them: reload the shared tail (a contended cache line) only when the
    // cursor reaches the known one.
    if (cursor_ >= known_tail_) known_tail_ = h.tail.load(std::memory_order_acquire);
    const uint64_t tail = known_tail_;
    bool stuck = false;
    if (cursor_ < tail) {
      uint32_t length = 0;
      if (seg.DecodeCommitted(cursor_, tail, view, &length)) {
        if (Screened(view->sender, view->type)) {
          cursor_ += length;
          continue;
        }
        if (waited_at_tail && !napped && dense_waits_ < kDenseAfterWaits) ++dense_waits_;
        record_wait();
        *next_cursor = cursor_ + length;
        return true;
      }
      FrameView f;
      absl::Status st = seg.DecodeFrame(cursor_, tail, &f);
      if (!st.ok()) return st;
      switch (f.state) {
        case queue_internal::kFramePadding:
        case queue_internal::kFrameAbandoned:
          cursor_ += f.length;
          continue;
        case queue_internal::kFrameCommitted: {
          st = seg.DecodePayload(f, view);
          if (!st.ok()) return st;
          if (Screened(view->sender, view->type)) {
            cursor_ += f.length;
            continue;
          }
          record_wait();
          *next_cursor = cursor_ + f.length;
          return true;
        }
        default: {  // reserved or unwritten: its writer is writing, or died
          if (stuck_position_ != cursor_) {
            stuck_position_ = cursor_;
            stuck_since_ = absl::InfiniteFuture();  // timed once spinning is over
          } else if (spins >= kSpinIterations || timeout <= absl::ZeroDuration()) {
            // (A reader polling with timeout zero must also get to probe.)
            const absl::Time now = ::syncstream::Now();
            if (stuck_since_ == absl::InfiniteFuture()) {
              stuck_since_ = now;
            } else if (now - stuck_since_ >= kStuckProbeAfter) {
              stuck_since_ = now;
              absl::StatusOr<bool> abandoned = seg.AbandonIfWriterDead(cursor_, tail);
              if (!abandoned.ok()) return abandoned.status();
              if (*abandoned) continue;
            }
          }
          stuck = true;
        }
      }
    } else if (tail < cursor_ || tail - cursor_ > seg.capacity()) {
      return seg.Error(absl::StatusCode::kDataLoss,
                       absl::StrCat("reader '", name_, "' at ", cursor_,
                                    " is outside the queue (tail ", tail, ")"));
    }
    if (timeout <= absl::ZeroDuration()) {
      PublishCursor();  // what was skipped
      return false;
    }
    if (!stuck) waited_at_tail = true;
    if (spin > absl::ZeroDuration() && wait_start_ns < 0 && !stuck) {
      // The policy spin, once per wait, before any nap or sleep: polls the
      // tail for up to what the policy allows.
      wait_start_ns = spin_wait_internal::MonotonicNs();
      if (!spin_policy_) spin_policy_.emplace(spin);
      policy_spin = std::min(spin_policy_->NextSpin(), timeout);
      if (policy_spin > absl::ZeroDuration() && SpinGate::Default().Enter()) {
        policy_spin_failed = !SpinUntil(policy_spin, [&] {
          return h.tail.load(std::memory_order_acquire) != tail;
        });
        SpinGate::Default().Leave();
        if (!policy_spin_failed) continue;
      } else {
        policy_spin = absl::ZeroDuration();
      }
    }
    // A frame being written is spun on (its writer finishes in nanoseconds);
    // the tail of a dense stream is napped on at once (kDenseAfterWaits).
    if (spins < kSpinIterations && (stuck || dense_waits_ < kDenseAfterWaits)) {
      // A few microseconds: not worth reading the clock for the deadline.
      ++spins;
      CpuRelax();
      continue;
    }
    if (deadline == absl::InfinitePast()) deadline = DeadlineAfter(timeout);
    PublishCursor();  // never wait on space writers may need
    const absl::Duration left = TimeLeft(deadline);
    if (left <= absl::ZeroDuration()) return false;
    if (!napped) {
      // Then nap once: a stream of appends continues meanwhile (see
      // kReaderNap); when nothing came, the stream is idle and we sleep.
      napped = true;
      FutexWait(&h.data_event, h.data_event.load(std::memory_order_relaxed),
                std::min(left, kReaderNap));
      continue;
    }
    dense_waits_ = 0;  // nothing came during the nap: not a dense stream
    const uint32_t epoch = data.Prepare();
    // Look again after announcing ourselves: a claim or commit may have raced.
    if (cursor_ < tail) {
      const uint64_t word = seg.FrameAt(cursor_)->word.load(std::memory_order_seq_cst);
      const uint32_t state = queue_internal::FrameWordState(word);
      if (queue_internal::FrameWordLap(word) == seg.LapOf(cursor_) &&
          state != queue_internal::kFrameReserved && state != queue_internal::kFrameUnwritten) {
        continue;
      }
    } else if (h.tail.load(std::memory_order_seq_cst) != tail) {
      continue;
    }
    data.Wait(epoch, std::min(left, stuck ? kStuckSlice : kReaderSlice));
  }
}

absl::StatusOr<std::optional<QueueMessage>> QueueParticipant::Pop(const PopOptions& options) {
  QueueMessage m;
  absl::StatusOr<bool> got = PopInto(&m, options);
  if (!got.ok()) return got.status();
  if (!*got) return std::optional<QueueMessage>();
  return std::optional<QueueMessage>(std::move(m));
}

absl::StatusOr<bool> QueueParticipant::PopInto(QueueMessage* out, const PopOptions& options) {
  absl::Status usable = CheckUsable(true, false);
  if (!usable.ok()) return usable;
  QueueMessageView view;
  uint64_t next = 0;
  absl::StatusOr<bool> got = NextMessage(&view, &next, options.timeout, options.spin);
  if (!got.ok() || !*got) return got;
  out->sender.assign(view.sender.data(), view.sender.size());
  out->type.assign(view.type.data(), view.type.size());
  out->body.assign(view.body.data(), view.body.size());
  out->sequence = view.sequence;
  out->timestamp = view.timestamp;
  cursor_ = next;
  ++unpublished_reads_;
  PublishCursor();
  return true;
}

absl::StatusOr<size_t> QueueParticipant::ForEachAvailable(
    absl::FunctionRef<void(const QueueMessageView&)> fn, const PopOptions& options,
    size_t max_messages) {
  absl::Status usable = CheckUsable(true, false);
  if (!usable.ok()) return usable;
  size_t count = 0;
  absl::Duration timeout = options.timeout;
  // The cursor is published once per run (and every kPublishEvery messages),
  // not per message: one shared store instead of many.
  const Segment& seg = *segment_;
  size_t passed = 0;  // frames passed since the cursor was last published
  while (count < max_messages) {
    QueueMessageView view;
    // A run of committed frames below the tail this reader last loaded:
    // decoded (and checked) in place, no tail load, no waiting machinery.
    uint32_t length = 0;
    if (cursor_ < known_tail_ && seg.DecodeCommitted(cursor_, known_tail_, &view, &length)) {
      cursor_ += length;
      if (!Screened(view.sender, view.type)) {
        fn(view);
        ++count;
        ++unpublished_reads_;
      }
      if (++passed == kPublishEvery) {
        passed = 0;
        PublishCursor();
      }
      timeout = absl::ZeroDuration();
      continue;
    }
    uint64_t next = 0;
    absl::StatusOr<bool> got = NextMessage(&view, &next, timeout, options.spin);
    if (!got.ok()) {
      PublishCursor();
      return got.status();
    }
    if (!*got) break;
    fn(view);
    ++count;
    cursor_ = next;
    ++unpublished_reads_;
    if (++passed >= kPublishEvery) {
      passed = 0;
      PublishCursor();
    }
    timeout = absl::ZeroDuration();
  }
  PublishCursor();
  return count;
}

absl::StatusOr<size_t> QueueParticipant::MarkAllRead() {
  absl::Status usable = CheckUsable(true, false);
  if (!usable.ok()) return usable;
  Segment& seg = *segment_;
  const uint64_t tail = seg.header()->tail.load(std::memory_order_acquire);
  size_t skipped = 0;
  for (uint64_t pos = cursor_; pos < tail;) {
    FrameView f;
    absl::Status st = seg.DecodeFrame(pos, tail, &f);
    if (!st.ok()) return st;
    if (f.state == queue_internal::kFrameCommitted ||
        f.state == queue_internal::kFrameReserved ||
        f.state == queue_internal::kFrameUnwritten) {
      ++skipped;
    }
    // A claim without its header yet: its length is unknown, so what follows
    // it is not counted (it is skipped all the same).
    if (f.state == queue_internal::kFrameUnwritten) break;
    pos += f.length;
  }
  cursor_ = tail;
  PublishCursor();
  return skipped;
}

void QueueParticipant::PublishFilters() {
  if (slot_ < 0 || owner_pid_ != CachedPid()) return;
  std::vector<std::string> parts;
  for (const std::string& s : screened_senders_) parts.push_back(absl::StrCat("sender:", s));
  for (const std::string& t : screened_types_) parts.push_back(absl::StrCat("type:", t));
  std::string text = absl::StrJoin(parts, " ");
  ParticipantSlot& slot = *segment_->slot(static_cast<uint32_t>(slot_));
  const size_t n = std::min(text.size(), sizeof(slot.filters) - 1);
  std::memcpy(slot.filters, text.data(), n);
  slot.filters[n] = '\0';
}

void QueueParticipant::ScreenSender(absl::string_view sender) {
  SortedInsert(&screened_senders_, sender);
  PublishFilters();
}
void QueueParticipant::UnscreenSender(absl::string_view sender) {
  SortedErase(&screened_senders_, sender);
  PublishFilters();
}
void QueueParticipant::ScreenType(absl::string_view type) {
  SortedInsert(&screened_types_, type);
  PublishFilters();
}
void QueueParticipant::UnscreenType(absl::string_view type) {
  SortedErase(&screened_types_, type);
  PublishFilters();
}

absl::Status QueueParticipant::Close(const CloseOptions& options) {
  if (slot_ < 0) return absl::OkStatus();
  const int slot = std::exchange(slot_, -1);
  if (owner_pid_ != CachedPid()) {
    segment_.reset();  // a forked copy: the slot is the parent's
    return absl::OkStatus();
  }
  Segment& seg = *segment_;
  // No append of this participant may be in flight when its slot goes.
  internal::ThreadBiasedLock::Guard serial(*append_lock_);
  if ((static_cast<uint32_t>(role_) & queue_internal::kRoleReaderBit) != 0) {
    slot_ = slot;
    PublishCursor();
    slot_ = -1;
  }
  absl::Status result;
  {
    auto lock = seg.Acquire();
    if (!lock.ok()) {
      segment_.reset();
      return lock.status();
    }
    ParticipantSlot& s = *seg.slot(static_cast<uint32_t>(slot));
    if (s.state.load(std::memory_order_relaxed) == queue_internal::kSlotActive &&
        s.generation == generation_) {
      s.state.store(queue_internal::kSlotFree, std::memory_order_release);
    }
    QueueHeader& h = *seg.header();
    if (!options.keep && unlink_on_last_close_ && !h.unlinked) {
      // Participants that were killed never closed: release them first, so
      // that the last live participant's close still unlinks the name
      // instead of leaving an orphaned queue in /dev/shm.
      if (seg.CountActive() > 0) seg.ReleaseDeadLocked(nullptr);
      if (seg.CountActive() == 0) result = seg.UnlinkLocked();
    }
  }
  // A reader leaving may free space.
  EventWord(&seg.header()->space_event).Notify();
  segment_.reset();
  return result;
}

}  // namespace syncstream
