#include "syncstream/queue/internal/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "syncstream/core/process_identity.h"
#include "syncstream/core/shared_memory_names.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/internal/sanitizers.h"
#include "syncstream/core/spin_wait.h"

namespace syncstream::queue_internal {
namespace {

bool ValidNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

const char* FrameStateName(uint32_t state) {
  switch (state) {
    case kFrameReserved: return "reserved";
    case kFrameCommitted: return "committed";
    case kFramePadding: return "padding";
    case kFrameAbandoned: return "abandoned";
    case kFrameUnwritten: return "unwritten";
    default: return "unknown";
  }
}

// Whether `slot` is held by a participant that appends.
bool IsActiveWriter(const ParticipantSlot& slot) {
  return slot.state.load(std::memory_order_acquire) == kSlotActive &&
         (slot.role & kRoleWriterBit) != 0;
}

}  // namespace

absl::StatusOr<std::string> ShmNameFor(absl::string_view name) {
  if (name.empty() || name.size() > 200) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue '", name, "': a name has 1 to 200 characters"));
  }
  for (char c : name) {
    if (!ValidNameChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "queue '", name, "': a name uses only letters, digits, '.', '_', '-'"));
    }
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("queue '", name, "': bad name"));
  }
  return absl::StrCat("/", kShmPrefix, name);
}

absl::Status Segment::Error(absl::StatusCode code, absl::string_view message) const {
  return absl::Status(code, absl::StrCat("queue '", name_, "': ", message));
}

Segment::~Segment() {
  if (base_ != nullptr) ::munmap(base_, size_);
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Create(
    absl::string_view name, size_t capacity_bytes, const QueueOptions& options) {
  absl::StatusOr<std::string> shm_name = ShmNameFor(name);
  if (!shm_name.ok()) return shm_name.status();
  std::shared_ptr<Segment> s(new Segment());
  s->name_ = std::string(name);
  s->shm_name_ = *shm_name;
  if (capacity_bytes < kMinCapacity || capacity_bytes > kMaxCapacity) {
    return s->Error(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("capacity ", capacity_bytes, " bytes is outside [",
                                 kMinCapacity, ", ", kMaxCapacity, "]"));
  }
  if (options.max_participants < 1 ||
      options.max_participants > kMaxParticipantsLimit) {
    return s->Error(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("max_participants ", options.max_participants,
                                 " is outside [1, ", kMaxParticipantsLimit, "]"));
  }
  uint64_t capacity = kMinCapacity;  // a power of two: offsets are masks
  while (capacity < capacity_bytes) capacity <<= 1;
  const uint64_t ring_offset =
      AlignUp(kHeaderSize + uint64_t{options.max_participants} * sizeof(ParticipantSlot), 64);
  const uint64_t total = ring_offset + capacity;

  UniqueFd fd(::shm_open(s->shm_name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                         options.mode & 0777));
  if (!fd) {
    int err = errno;
    return s->Error(err == EEXIST ? absl::StatusCode::kAlreadyExists
                                  : absl::StatusCode::kUnavailable,
                    absl::StrCat("cannot create /dev/shm", s->shm_name_, ": ",
                                 strerror(err)));
  }
  ::fchmod(fd.get(), options.mode & 0777);  // not narrowed by the umask
  if (::ftruncate(fd.get(), static_cast<off_t>(total)) != 0) {
    int err = errno;
    ::shm_unlink(s->shm_name_.c_str());
    return s->Error(absl::StatusCode::kResourceExhausted,
                    absl::StrCat("cannot size the segment to ", total, " bytes: ",
                                 strerror(err)));
  }
  void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) {
    int err = errno;
    ::shm_unlink(s->shm_name_.c_str());
    return s->Error(absl::StatusCode::kResourceExhausted,
                    absl::StrCat("cannot map ", total, " bytes: ", strerror(err)));
  }
  s->base_ = base;
  s->size_ = total;
  s->capacity_ = capacity;
  s->capacity_shift_ = static_cast<uint32_t>(__builtin_ctzll(capacity));
  s->max_participants_ = options.max_participants;
  s->header_ = new (base) QueueHeader();  // the file is zero-filled
  s->slots_ = reinterpret_cast<ParticipantSlot*>(static_cast<uint8_t*>(base) + kHeaderSize);
  s->ring_ = static_cast<uint8_t*>(base) + ring_offset;

  QueueHeader* h = s->header_;
  h->layout_version = kLayoutVersion;
  h->header_size = kHeaderSize;
  h->total_size = total;
  h->capacity = capacity;
  h->max_participants = options.max_participants;
  h->slot_size = sizeof(ParticipantSlot);
  h->participants_offset = kHeaderSize;
  h->ring_offset = ring_offset;
  h->created_ns = absl::ToUnixNanos(::syncstream::Now());
  h->mode = options.mode & 0777;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  int rc = pthread_mutex_init(&h->lock, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    ::shm_unlink(s->shm_name_.c_str());
    return s->Error(absl::StatusCode::kInternal,
                    absl::StrCat("cannot initialize the lock: ", strerror(rc)));
  }
  h->space_end.store(capacity, std::memory_order_relaxed);  // the file is zero-filled
  h->next_generation = 1;
  for (uint32_t i = 0; i < options.max_participants; ++i) {
    ParticipantSlot* slot = new (s->slots_ + i) ParticipantSlot();
    slot->reserving.store(kNoReservation, std::memory_order_relaxed);
  }
  h->magic.store(kMagic, std::memory_order_release);
  return s;
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Open(absl::string_view name,
                                                       absl::Duration init_wait) {
  absl::StatusOr<std::string> shm_name = ShmNameFor(name);
  if (!shm_name.ok()) return shm_name.status();
  std::shared_ptr<Segment> s(new Segment());
  s->name_ = std::string(name);
  s->shm_name_ = *shm_name;
  UniqueFd fd(::shm_open(s->shm_name_.c_str(), O_RDWR | O_CLOEXEC, 0));
  if (!fd) {
    int err = errno;
    return s->Error(err == ENOENT ? absl::StatusCode::kNotFound
                                  : absl::StatusCode::kPermissionDenied,
                    absl::StrCat("cannot open /dev/shm", s->shm_name_, ": ",
                                 strerror(err)));
  }
  s->private_status_ = CheckSharedMemoryIsPrivate(
      fd.get(), absl::StrCat("queue '", s->name_, "' (/dev/shm", s->shm_name_, ")"));
  absl::Status st = s->MapAndValidate(fd.get(), init_wait);
  if (!st.ok()) return st;
  return s;
}

absl::Status Segment::MapAndValidate(int fd, absl::Duration init_wait) {
  const absl::Time deadline = ::syncstream::Now() + init_wait;
  // A creator may still be sizing and initializing the segment.
  for (;;) {
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      return Error(absl::StatusCode::kUnavailable, absl::StrCat("fstat: ", strerror(errno)));
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    bool ready = false;
    if (size >= kHeaderSize) {
      if (base_ != nullptr) ::munmap(base_, size_);
      base_ = nullptr;
      void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (base == MAP_FAILED) {
        return Error(absl::StatusCode::kUnavailable,
                     absl::StrCat("cannot map ", size, " bytes: ", strerror(errno)));
      }
      base_ = base;
      size_ = size;
      header_ = static_cast<QueueHeader*>(base);
      ready = header_->magic.load(std::memory_order_acquire) != 0;
    }
    if (ready) break;
    if (::syncstream::Now() >= deadline) {
      return Error(absl::StatusCode::kFailedPrecondition,
                   size < kHeaderSize
                       ? absl::StrCat("segment truncated: ", size, " bytes, a header needs ",
                                      kHeaderSize)
                       : std::string("header never initialized (creator died, or not a "
                                     "syncstream queue?)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const QueueHeader& h = *header_;
  if (h.magic.load(std::memory_order_acquire) != kMagic) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 "header magic mismatch (not a syncstream queue?)");
  }
  if (h.layout_version != kLayoutVersion) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("layout version ", h.layout_version, ", this program reads ",
                              kLayoutVersion));
  }
  if (h.header_size != kHeaderSize || h.slot_size != sizeof(ParticipantSlot) ||
      h.participants_offset != kHeaderSize) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("header sizes (header ", h.header_size, ", slot ", h.slot_size,
                              ", table at ", h.participants_offset,
                              ") do not match layout version ", kLayoutVersion));
  }
  if (h.max_participants < 1 || h.max_participants > kMaxParticipantsLimit) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("participant count ", h.max_participants, " out of range"));
  }
  const uint64_t ring_offset =
      AlignUp(kHeaderSize + uint64_t{h.max_participants} * sizeof(ParticipantSlot), 64);
  if (h.ring_offset != ring_offset || h.capacity < kMinCapacity ||
      h.capacity > kMaxCapacity || (h.capacity & (h.capacity - 1)) != 0 ||
      h.total_size != ring_offset + h.capacity) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("inconsistent sizes: ring at ", h.ring_offset, ", capacity ",
                              h.capacity, ", total ", h.total_size));
  }
  if (size_ < h.total_size) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("segment truncated: ", size_, " bytes, the header says ",
                              h.total_size));
  }
  capacity_ = h.capacity;
  capacity_shift_ = static_cast<uint32_t>(__builtin_ctzll(capacity_));
  max_participants_ = h.max_participants;
  slots_ = reinterpret_cast<ParticipantSlot*>(static_cast<uint8_t*>(base_) + kHeaderSize);
  ring_ = static_cast<uint8_t*>(base_) + ring_offset;
  uint64_t head = 0;
  uint64_t tail = 0;
  return LoadPositions("open", &head, &tail);
}

Segment::Lock::~Lock() {
  if (segment_ != nullptr) pthread_mutex_unlock(&segment_->header_->lock);
}

absl::StatusOr<Segment::Lock> Segment::Acquire(absl::Duration timeout) {
  // The lock is held for well under a microsecond: spin a little before
  // sleeping in the kernel (glibc's robust mutexes do not spin by
  // themselves), unless this spinner is preempted (core/spin_wait.h).
  int rc = EBUSY;
  SpinUntil(absl::Microseconds(5), [&] {
    rc = pthread_mutex_trylock(&header_->lock);
    return rc != EBUSY;
  });
  if (rc == EBUSY) {
#if SYNCSTREAM_TSAN
    // TSan's pthread_mutex_timedlock interceptor does not record the lock
    // when it returns EOWNERDEAD (trylock's does): poll trylock instead.
    const absl::Time deadline = ::syncstream::Now() + timeout;
    while ((rc = pthread_mutex_trylock(&header_->lock)) == EBUSY) {
      if (::syncstream::Now() >= deadline) {
        rc = ETIMEDOUT;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
#else
    struct timespec deadline = absl::ToTimespec(::syncstream::Now() + timeout);
    rc = pthread_mutex_timedlock(&header_->lock, &deadline);
#endif
  }
  bool recovered = false;
  if (rc == EOWNERDEAD) {
    // The holder died inside a critical section. Every critical section
    // publishes its effects with single stores in a safe order, so the
    // protected state is consistent; only the lock needs repair.
    pthread_mutex_consistent(&header_->lock);
    header_->lock_recoveries++;
    recovered = true;
  } else if (rc == ETIMEDOUT) {
    return Error(absl::StatusCode::kUnavailable,
                 absl::StrCat("lock held for over ", absl::FormatDuration(timeout),
                              " (its holder is stopped or the lock is corrupt)"));
  } else if (rc != 0) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("cannot take the lock: ", strerror(rc)));
  }
  return Lock(this, recovered);
}

absl::Status Segment::CorruptPositions(absl::string_view who, uint64_t head,
                                       uint64_t tail) const {
  const QueueHeader& h = *header_;
  std::string state = absl::StrCat(
      "corrupt positions (", who, "): head ", head, ", tail ", tail, ", capacity ", capacity_,
      "; now head ", h.head.load(std::memory_order_acquire), ", tail ",
      h.tail.load(std::memory_order_acquire), ", space end ",
      h.space_end.load(std::memory_order_acquire), ", next sequence ",
      h.next_sequence.load(std::memory_order_acquire), ", lock recoveries ",
      h.lock_recoveries, ", abandoned frames ",
      h.abandoned_frames.load(std::memory_order_relaxed));
  for (uint32_t i = 0; i < max_participants_; ++i) {
    const ParticipantSlot& s = slots_[i];
    if (s.state.load(std::memory_order_acquire) != kSlotActive) continue;
    const uint64_t end = s.reserving_end.load(std::memory_order_acquire);
    absl::StrAppend(&state, "; slot ", i, " '",
                    absl::string_view(s.name, std::min<size_t>(s.name_length, kMaxNameLength)),
                    "' pid ", s.pid, " role ", s.role, " cursor ",
                    s.cursor.load(std::memory_order_acquire), " claim ",
                    s.reserving.load(std::memory_order_acquire), "..", end & ~kClaimFlags,
                    (end & kClaimConfirmed) ? " confirmed" : "",
                    (end & kClaimFinished) ? " finished" : "");
  }
  return Error(absl::StatusCode::kDataLoss, state);
}

absl::Status Segment::DecodeFrame(uint64_t position, uint64_t tail, FrameView* out) const {
  if (position >= tail || tail - position > capacity_ || position % kFrameAlign) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("frame position ", position, " outside the published range (tail ",
                              tail, ")"));
  }
  const uint64_t offset = position & (capacity_ - 1);
  const uint64_t to_lap_end = capacity_ - offset;
  const uint64_t available = std::min(to_lap_end, tail - position);
  out->position = position;
  out->state = kFrameUnwritten;
  out->length = 0;
  out->header = nullptr;
  auto* header = reinterpret_cast<FrameHeader*>(ring_ + offset);
  const uint64_t word = header->word.load(std::memory_order_acquire);
  const uint32_t state = FrameWordState(word);
  // A word of an earlier lap, or the zeros of a new segment: not written yet.
  if (FrameWordLap(word) != LapOf(position) || state == kFrameUnwritten) return absl::OkStatus();
  const uint64_t length = FrameWordLength(word);
  if (length < kPaddingHeaderSize || length > available) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("frame at ", position, " has a bad length ", length,
                              " (room ", available, ")"));
  }
  out->state = state;
  out->length = static_cast<uint32_t>(length);
  switch (state) {
    case kFramePadding:
      if (length != to_lap_end) {
        return Error(absl::StatusCode::kDataLoss,
                     absl::StrCat("padding at ", position, " does not end the lap"));
      }
      return absl::OkStatus();
    case kFrameAbandoned:
      // An abandoned claim may be shorter than a header: only its word counts.
      if (length >= kFrameHeaderSize) out->header = header;
      return absl::OkStatus();
    case kFrameReserved:
    case kFrameCommitted:
      if (length < kFrameHeaderSize) {
        return Error(absl::StatusCode::kDataLoss,
                     absl::StrCat(FrameStateName(state), " frame at ", position,
                                  " shorter than its header"));
      }
      out->header = header;
      return absl::OkStatus();
    default:
      return Error(absl::StatusCode::kDataLoss,
                   absl::StrCat("frame at ", position, " has an unknown state ", state));
  }
}

absl::Status Segment::DecodePayload(const FrameView& frame, QueueMessageView* out) const {
  const FrameHeader& h = *frame.header;
  const uint64_t body = h.body_length;
  const uint64_t type = h.type_length;
  const uint64_t sender = h.sender_length;
  if (kFrameHeaderSize + sender + type + body > frame.length) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("frame at ", frame.position, " claims ", sender, "+", type, "+",
                              body, " payload bytes in ", frame.length));
  }
  const char* p = reinterpret_cast<const char*>(frame.header) + kFrameHeaderSize;
  out->sender = absl::string_view(p, sender);
  out->type = absl::string_view(p + sender, type);
  out->body = absl::string_view(p + sender + type, body);
  out->sequence = h.sequence;
  out->timestamp = absl::FromUnixNanos(h.timestamp_ns);
  return absl::OkStatus();
}

bool Segment::ProbeDueLocked() {
  const int64_t now = absl::ToUnixNanos(::syncstream::Now());
  if (now - header_->last_probe_ns < 10'000'000 && now >= header_->last_probe_ns) {
    return false;
  }
  header_->last_probe_ns = now;
  return true;
}

uint32_t Segment::CountActive() const {
  uint32_t n = 0;
  for (uint32_t i = 0; i < max_participants_; ++i) {
    if (slots_[i].state.load(std::memory_order_acquire) == kSlotActive) ++n;
  }
  return n;
}

Segment::ParticipantCount Segment::CountParticipants() const {
  ParticipantCount count;
  for (uint32_t i = 0; i < max_participants_; ++i) {
    if (slots_[i].state.load(std::memory_order_acquire) != kSlotActive) continue;
    ++count.active;
    if (!SlotProcessAlive(i)) ++count.dead;
  }
  return count;
}

absl::Status Segment::UnlinkLocked() {
  header_->unlinked = 1;
  if (::shm_unlink(shm_name_.c_str()) != 0 && errno != ENOENT) {
    return Error(absl::StatusCode::kInternal, absl::StrCat("cannot unlink: ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool Segment::SlotProcessAlive(uint32_t i) const {
  const ParticipantSlot& s = slots_[i];
  return IsProcessAlive(ProcessIdentity{s.pid, s.start_time});
}

bool Segment::WriterMayBeAlive(const FrameHeader& frame) const {
  const uint32_t i = frame.writer_slot;
  if (i >= max_participants_) return false;
  const ParticipantSlot& s = slots_[i];
  if (s.state.load(std::memory_order_acquire) != kSlotActive ||
      s.generation != frame.writer_generation) {
    return false;  // the writer detached or was released: it cannot commit
  }
  return SlotProcessAlive(i);
}

absl::StatusOr<bool> Segment::AbandonIfWriterDead(uint64_t position, uint64_t tail) {
  FrameView f;
  absl::Status st = DecodeFrame(position, tail, &f);
  if (!st.ok()) return st;
  FrameHeader* frame = FrameAt(position);
  if (f.state == kFrameReserved) {
    if (WriterMayBeAlive(*f.header)) return false;
    uint64_t expected = MakeFrameWord(kFrameReserved, f.length, LapOf(position));
    if (frame->word.compare_exchange_strong(
            expected, MakeFrameWord(kFrameAbandoned, f.length, LapOf(position)))) {
      header_->abandoned_frames.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }
  if (f.state != kFrameUnwritten) return true;  // finished meanwhile
  // Claimed, no header yet. Its claimant announced [start, end) in its slot
  // before claiming and keeps it there; the hole ends where that claim does
  // (never where the ring's bytes seem to say: see layout.h).
  const uint64_t stale = frame->word.load(std::memory_order_acquire);
  bool have_confirmed = false;
  bool have_unconfirmed = false;
  bool ambiguous = false;
  uint64_t confirmed_end = 0;
  uint64_t unconfirmed_end = 0;
  for (uint32_t i = 0; i < max_participants_; ++i) {
    if (!IsActiveWriter(slots_[i])) continue;
    Claim c;
    if (!ReadClaim(i, &c)) return false;  // changing: its writer is at work
    if (!Covers(c, position, tail)) continue;
    if (SlotProcessAlive(i)) return false;
    Claim again;
    if (!ReadClaim(i, &again) || again.start != c.start || again.end != c.end) return false;
    c.confirmed = again.confirmed;
    if (c.confirmed) {
      if (have_confirmed && confirmed_end != c.end) {
        return Error(absl::StatusCode::kDataLoss,
                     absl::StrCat("two claims cover position ", position));
      }
      have_confirmed = true;
      confirmed_end = c.end;
    } else {
      if (have_unconfirmed && unconfirmed_end != c.end) ambiguous = true;
      have_unconfirmed = true;
      unconfirmed_end = c.end;
    }
  }
  // The header may have been written (and the claimant moved on) while we
  // looked at the slots.
  if (frame->word.load(std::memory_order_acquire) != stale) return true;
  uint64_t end = 0;
  if (have_confirmed) {
    end = confirmed_end;
  } else if (have_unconfirmed && !ambiguous) {
    end = unconfirmed_end;
  } else if (ambiguous) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("the claim at ", position,
                              " was made by a writer that died, and the dead writers' "
                              "announcements disagree on where it ends"));
  } else {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("no writer announces the unwritten frame at ", position,
                              " (tail ", tail, ")"));
  }
  const uint64_t lap_end = (position | (capacity_ - 1)) + 1;
  if (end > lap_end) end = lap_end;  // the claim goes on in the next lap
  const uint32_t state = end == lap_end ? kFramePadding : kFrameAbandoned;
  uint64_t expected = stale;
  if (frame->word.compare_exchange_strong(
          expected, MakeFrameWord(state, end - position, LapOf(position)))) {
    header_->abandoned_frames.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

bool Segment::ReadClaim(uint32_t i, Claim* out) const {
  const ParticipantSlot& s = slots_[i];
  // The writer stores the start, then the end (release each), and withdraws
  // a claim by storing its start as its end: an end read twice unchanged
  // around the start belongs to that start, or to a later one that the start
  // check (start < end) rejects.
  const uint64_t end1 = s.reserving_end.load(std::memory_order_acquire);
  const uint64_t start = s.reserving.load(std::memory_order_acquire);
  const uint64_t end2 = s.reserving_end.load(std::memory_order_acquire);
  if ((end1 & ~kClaimFlags) != (end2 & ~kClaimFlags)) return false;
  out->start = start;
  out->end = end2 & ~kClaimFlags;
  out->confirmed = (end2 & kClaimConfirmed) != 0;
  // Stored after the commits (release): they are visible once it is.
  out->finished = (end2 & kClaimFinished) != 0;
  return true;
}

uint64_t Segment::CompleteBelowLocked(uint64_t head, uint64_t limit) const {
  // A frame below `limit` (<= the tail this reclaim loaded, acquire) was
  // claimed by a compare-and-swap made before that load, after its writer
  // announced the claim: the announcement, or a later state of the slot, is
  // visible here. A writer has at most one claim in flight (appends of a
  // slot are serialized, and a slot is reused only once its claim is
  // closed), so a claim that is not announced unfinished has all its frames
  // written: committed, or abandoned by whoever found its writer dead.
  uint64_t below = limit;
  for (uint32_t i = 0; i < max_participants_; ++i) {
    if (!IsActiveWriter(slots_[i])) continue;
    Claim c;
    if (!ReadClaim(i, &c)) return head;  // its writer is announcing: look frame by frame
    // No claim, a finished one, a withdrawn one (start == end), or a start
    // newer than the end read with it: a claim being announced now, whose
    // compare-and-swap comes after our tail load (it starts at or above it).
    if (c.start == kNoReservation || c.finished || c.start >= c.end) continue;
    // Already walked over by head (its frames were written or abandoned).
    if (c.end <= head) continue;
    // In flight, or its writer died in it: nothing from its start on is
    // jumped over. A start that is no frame boundary is not trusted at all.
    if (c.start % kFrameAlign != 0) return head;
    below = std::min(below, std::max(c.start, head));
  }
  return below;
}

bool Segment::Covers(const Claim& c, uint64_t position, uint64_t tail) const {
  return c.start != kNoReservation && c.start <= position && position < c.end &&
         c.end <= tail && c.end - c.start <= capacity_ && c.start % kFrameAlign == 0 &&
         c.end % kFrameAlign == 0;
}

bool Segment::CloseDeadClaimLocked(uint32_t i) {
  const ParticipantSlot& s = slots_[i];
  if ((s.role & kRoleWriterBit) == 0) return true;
  Claim c;
  if (!ReadClaim(i, &c)) return false;
  const uint64_t tail = header_->tail.load(std::memory_order_acquire);
  uint64_t pos = std::max(c.start, header_->head.load(std::memory_order_acquire));
  if (!Covers(c, pos, tail)) return true;  // nothing of it left to read
  uint64_t resolved_at = UINT64_MAX;
  while (pos < c.end) {
    FrameView f;
    if (!DecodeFrame(pos, tail, &f).ok()) return false;
    if (f.state == kFrameReserved || f.state == kFrameUnwritten) {
      if (resolved_at == pos) return false;
      resolved_at = pos;
      absl::StatusOr<bool> abandoned = AbandonIfWriterDead(pos, tail);
      // Undecided (a live writer announces it) or ambiguous: keep the slot.
      if (!abandoned.ok() || !*abandoned) return false;
      continue;  // decode it again
    }
    pos += f.length;
  }
  return true;
}

void Segment::ReleaseDeadLocked(RepairReport* report) {
  for (uint32_t i = 0; i < max_participants_; ++i) {
    ParticipantSlot& s = slots_[i];
    if (s.state.load(std::memory_order_relaxed) != kSlotActive) continue;
    if (SlotProcessAlive(i)) continue;
    // A claim it never wrote stays announced until its hole is closed.
    const uint64_t before = header_->abandoned_frames.load(std::memory_order_relaxed);
    const bool closed = CloseDeadClaimLocked(i);
    if (report != nullptr) {
      report->abandoned_frames +=
          header_->abandoned_frames.load(std::memory_order_relaxed) - before;
    }
    if (!closed) continue;
    s.state.store(kSlotFree, std::memory_order_release);
    header_->released_participants++;
    if (report != nullptr) {
      size_t n = std::min<size_t>(s.name_length, kMaxNameLength);
      report->released.push_back(
          absl::StrCat(absl::string_view(s.name, n), " (pid ", s.pid, ")"));
    }
  }
}

void Segment::ZeroRangeLocked(uint64_t begin, uint64_t end) {
  // Every reader is past these bytes, and no one reads them again before a
  // writer claims them anew, which it does only after loading the space_end
  // stored after this: a reader of that claim is ordered after the zeroing
  // through the claim (queue_participant.cc, TailCompareExchange).
  const uint64_t offset = begin & (capacity_ - 1);
  const uint64_t length = end - begin;  // at most capacity_
  const uint64_t first = std::min(length, capacity_ - offset);
  std::memset(ring_ + offset, 0, first);
  std::memset(ring_, 0, length - first);
}

// kReclaimStep (128 KiB): zeroing that much under the lock took 15-20
// microseconds on the machines measured, whatever the capacity, and the
// writer then fills the zeroed bytes while they are still in its cache. A
// 256 KiB step took twice as long per reclaim at the same throughput;
// zeroing a whole lap at once held the lock for milliseconds (54-70 ms for a
// 512 MiB queue).
absl::StatusOr<bool> Segment::ReclaimLocked(uint64_t needed_end, bool probe, uint64_t step,
                                            RepairReport* report) {
  QueueHeader& h = *header_;
  // Acquire: the claims announced before the compare-and-swaps that made
  // this tail are visible to CompleteBelowLocked.
  const uint64_t tail = h.tail.load(std::memory_order_acquire);
  for (int attempt = 0; attempt < 2; ++attempt) {
    uint64_t head = h.head.load(std::memory_order_relaxed);
    if (!PositionsValid(head, tail)) {  // head cannot move: we hold the lock
      return CorruptPositions("reclaim", head, tail);
    }
    uint64_t limit = tail;
    for (uint32_t i = 0; i < max_participants_; ++i) {
      const ParticipantSlot& s = slots_[i];
      if (s.state.load(std::memory_order_acquire) != kSlotActive ||
          (s.role & kRoleReaderBit) == 0) {
        continue;
      }
      uint64_t c = s.cursor.load(std::memory_order_seq_cst);
      if (c < head) c = head;  // impossible unless corrupt: never wait on it
      limit = std::min(limit, c);
    }
    const uint64_t old_head = head;
    // Readers' cursors are frame boundaries unless corrupt; then the walk
    // below reports what is wrong. (A full queue whose readers have not
    // moved has nothing to reclaim: no need to look at the claims.)
    if (limit > head && limit % kFrameAlign == 0) head = CompleteBelowLocked(head, limit);
    uint64_t resolved_at = UINT64_MAX;
    while (head < limit) {
      // The usual frame, from its word alone: committed (or padding to the
      // lap's end) in this lap, of a plausible length. Anything else takes
      // the full decode below.
      {
        const uint64_t offset = head & (capacity_ - 1);
        const uint64_t word =
            reinterpret_cast<const FrameHeader*>(ring_ + offset)->word.load(std::memory_order_acquire);
        const uint64_t length = FrameWordLength(word);
        const uint32_t state = FrameWordState(word);
        if (FrameWordLap(word) == LapOf(head) && length <= tail - head &&
            ((state == kFrameCommitted && length >= kFrameHeaderSize &&
              length <= capacity_ - offset) ||
             (state == kFramePadding && length == capacity_ - offset))) {
          head += length;
          continue;
        }
      }
      FrameView f;
      absl::Status st = DecodeFrame(head, tail, &f);
      if (!st.ok()) return st;
      if (f.state == kFrameReserved || f.state == kFrameUnwritten) {
        // Still being written, unless its writer is gone.
        if (!probe || resolved_at == head) break;
        resolved_at = head;
        const uint64_t before = h.abandoned_frames.load(std::memory_order_relaxed);
        absl::StatusOr<bool> abandoned = AbandonIfWriterDead(head, tail);
        if (!abandoned.ok()) return abandoned.status();
        if (!*abandoned) break;
        if (report != nullptr) {
          report->abandoned_frames += h.abandoned_frames.load(std::memory_order_relaxed) - before;
        }
        continue;  // decode it again, now abandoned
      }
      head += f.length;
    }
    if (head != old_head) {
      h.head.store(head, std::memory_order_release);
      if (report != nullptr) report->reclaimed_bytes += head - old_head;
    }
    // Hand writers the space they need and a step more, zeroed first
    // (release): a writer claims it only after loading this space_end, so a
    // reader that finds a claim's header not written yet reads zeros there,
    // never an earlier lap's bytes.
    const uint64_t space_end = h.space_end.load(std::memory_order_relaxed);
    const uint64_t room_end = head + capacity_;
    if (space_end < tail || space_end > room_end || space_end % kFrameAlign != 0) {
      return Error(absl::StatusCode::kDataLoss,
                   absl::StrCat("corrupt space end ", space_end, " (head ", head, ", tail ",
                                tail, ", capacity ", capacity_, ")"));
    }
    const uint64_t stepped = step < room_end - space_end ? space_end + step : room_end;
    const uint64_t new_space_end = std::min(room_end, std::max(needed_end, stepped));
    if (new_space_end > space_end) {
      ZeroRangeLocked(space_end, new_space_end);
      h.space_end.store(new_space_end, std::memory_order_release);
    }
    if (needed_end <= new_space_end) return true;
    if (!probe || attempt == 1) return false;
    // Still short: a dead reader may be holding the space.
    ReleaseDeadLocked(report);
  }
  return false;
}

}  // namespace syncstream::queue_internal
