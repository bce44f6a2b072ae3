// The bytes of a syncstream queue segment (/dev/shm/syncstream-queue.NAME),
// layout version 6. All integers are little-endian host order (the segment
// never leaves the machine). Everything here is written by other processes
// and therefore untrusted: see segment.h for the validation rules. The
// protocol, with diagrams, is described in docs/formats/queue.md.
//
//   offset 0                 QueueHeader          (kHeaderSize bytes)
//   participants_offset      ParticipantSlot[max_participants]
//   ring_offset              data ring, `capacity` bytes (a power of two)
//
// Positions are 64-bit byte counts that only grow; a position's offset in
// the ring is `position & (capacity - 1)`, its lap `position / capacity`.
// A frame is FrameHeader + sender + type + body, padded to 8 bytes (or to
// the end of a 64-byte line, see "Appending"); it never wraps: a padding
// frame fills the rest of a lap. Readers go by the frame length.
//
// Invariants:
//  - head <= cursor of every reader <= tail <= space_end <= head + capacity,
//    all multiples of kFrameAlign;
//  - the bytes of [tail, space_end) are zero: a claimed frame whose header
//    is not written yet reads as kFrameUnwritten, never as an earlier lap's
//    bytes;
//  - a frame word carries its position's lap: a word of another lap is
//    kFrameUnwritten;
//  - `head` and `space_end` change only under the queue lock; `tail` and
//    `next_sequence` only together, by one 16-byte compare-and-swap;
//  - every frame below the lowest unfinished claim is committed, padding or
//    abandoned.
//
// Appending (no lock):
//  1. announce the claim in the writer's slot: `reserving`, then
//     `reserving_end` (release each);
//  2. claim [tail, end) with one compare-and-swap of (tail, next_sequence)
//     -> (end, next_sequence + n), claiming only below space_end and head +
//     capacity as loaded (acquire); on success set kClaimConfirmed in
//     `reserving_end`, on failure withdraw (`reserving_end` = `reserving`)
//     and start again;
//  3. write each frame's header with a kFrameReserved word, then any padding
//     frame's word;
//  4. copy each payload and store the kFrameCommitted word (release);
//  5. set kClaimFinished in `reserving_end` (release).
// A writer that finds another writer's claim since its own previous one
// ends a claim shorter than 4 KiB on a 64-byte boundary (its last frame's
// length is rounded up), so that the next claim starts on a line of its own.
//
// Space: a writer short of space takes the lock, moves `head` up to the
// slowest reader's cursor (jumping over everything below the lowest
// unfinished claim, walking frame by frame above it), then moves
// `space_end` a bounded step (segment.h, kReclaimStep) past what it needs,
// zeroing the bytes it adds before it stores it (release).
//
// Dead writers: a reader at a position below `tail` whose frame is reserved
// or unwritten waits while a live writer may still write it. A reserved
// frame whose writer (slot and generation; pid and start time) is gone
// becomes kFrameAbandoned by a compare-and-swap of its word. An unwritten
// position covered only by dead writers' announced claims is marked
// abandoned up to the claim's announced end (or padded to the lap's end),
// by a compare-and-swap, so racing readers agree; confirmed claims are
// trusted, unconfirmed ones only when they all agree (otherwise DataLoss).
// The ring's bytes are never searched for the end of a hole. A dead
// writer's slot is released only once its claim is closed.
#ifndef SYNCSTREAM_QUEUE_INTERNAL_LAYOUT_H_
#define SYNCSTREAM_QUEUE_INTERNAL_LAYOUT_H_

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace syncstream::queue_internal {

inline constexpr uint64_t kMagic = 0x3151'4D52'5453'5353ull;  // "SSSTRMQ1"
inline constexpr uint32_t kLayoutVersion = 6;
inline constexpr const char* kShmPrefix = "syncstream-queue.";

inline constexpr size_t kFrameAlign = 8;
inline constexpr size_t kMinCapacity = 256;
inline constexpr size_t kMaxCapacity = size_t{1} << 40;
inline constexpr uint32_t kMaxParticipantsLimit = 4096;
inline constexpr size_t kMaxNameLength = 63;      // participant names
inline constexpr size_t kMaxTypeLength = 65535;
inline constexpr size_t kFilterTextSize = 192;

// A frame's state, the low 3 bits of its frame word.
enum FrameState : uint32_t {
  kFrameUnwritten = 0,  // not stored: the word is of another lap (see above)
  kFrameReserved = 1,   // being written
  kFrameCommitted = 2,  // complete
  kFramePadding = 3,    // filler up to the end of the lap
  kFrameAbandoned = 4,  // its writer died before committing
};

// A frame word: lap (32 bits) << 32 | length / 8 (29 bits) << 3 | state.
inline constexpr uint64_t MakeFrameWord(uint32_t state, uint64_t length, uint32_t lap) {
  return (uint64_t{lap} << 32) | ((length >> 3) << 3) | state;
}
inline constexpr uint32_t FrameWordState(uint64_t word) { return word & 7u; }
inline constexpr uint64_t FrameWordLength(uint64_t word) { return word & 0xFFFFFFF8u; }
inline constexpr uint32_t FrameWordLap(uint64_t word) { return static_cast<uint32_t>(word >> 32); }
// The largest frame a frame word can describe.
inline constexpr uint64_t kMaxFrameLength = 0xFFFFFFF8u;

// No reservation in progress (ParticipantSlot::reserving).
inline constexpr uint64_t kNoReservation = ~uint64_t{0};
// ParticipantSlot::reserving_end: the claim's compare-and-swap succeeded.
inline constexpr uint64_t kClaimConfirmed = 1;
// ParticipantSlot::reserving_end: every frame of the claim is committed
// (set after kClaimConfirmed).
inline constexpr uint64_t kClaimFinished = 2;
// The flag bits of reserving_end (ends are multiples of kFrameAlign).
inline constexpr uint64_t kClaimFlags = kClaimConfirmed | kClaimFinished;

enum SlotState : uint32_t {
  kSlotFree = 0,
  kSlotActive = 1,
};

enum RoleBits : uint32_t {
  kRoleWriterBit = 1,
  kRoleReaderBit = 2,
};

struct FrameHeader {
  std::atomic<uint64_t> word;   // frame word; stored last (release) on commit
  uint64_t sequence;
  int64_t timestamp_ns;         // Unix time
  uint32_t body_length;
  uint16_t type_length;
  uint8_t sender_length;
  uint8_t flags;                // 0
  uint16_t writer_slot;
  uint16_t reserved;            // 0
  uint32_t writer_generation;
  // Followed by sender, type, body bytes.
};
static_assert(sizeof(FrameHeader) == 40, "frame header layout");
inline constexpr size_t kFrameHeaderSize = sizeof(FrameHeader);
// A padding or abandoned frame only needs its frame word.
inline constexpr size_t kPaddingHeaderSize = 8;

struct alignas(64) ParticipantSlot {
  // Identity; written under the queue lock, `state` last.
  std::atomic<uint32_t> state;  // SlotState
  uint32_t generation;          // unique per attach (QueueHeader counter)
  uint32_t role;                // RoleBits
  int32_t pid;
  uint64_t start_time;          // /proc/<pid>/stat field 22
  int64_t attached_ns;
  uint32_t name_length;
  uint32_t flags;               // bit 0: screens its own messages
  uint8_t pad0[64 - 40];
  char name[64];
  // The reader's position; only the reader stores it (seq_cst), writers read
  // it to find free space.
  std::atomic<uint64_t> cursor;
  std::atomic<uint64_t> messages_read;
  // Writers: the claim this writer makes or last made, [reserving,
  // reserving_end), both stored before its compare-and-swap on the tail
  // (start first); kClaimConfirmed is or-ed into the end once the claim is
  // made, kClaimFinished once all its frames are committed.
  // reserving_end == reserving: withdrawn. kNoReservation: none yet.
  std::atomic<uint64_t> reserving;
  std::atomic<uint64_t> reserving_end;
  uint8_t pad1[64 - 32];
  // Screening, as text for `syncstream queue inspect` (the reader screens
  // from its own copy): "sender:NAME\ntype:TYPE\n...", NUL-terminated.
  char filters[kFilterTextSize];
};
static_assert(sizeof(ParticipantSlot) == 384, "participant slot layout");

struct alignas(64) QueueHeader {
  // Written once by the creator; `magic` last (release).
  std::atomic<uint64_t> magic;
  uint32_t layout_version;
  uint32_t header_size;
  uint64_t total_size;
  uint64_t capacity;
  uint32_t max_participants;
  uint32_t slot_size;
  uint64_t participants_offset;
  uint64_t ring_offset;
  int64_t created_ns;
  uint32_t mode;
  uint32_t pad0;
  uint8_t pad1[128 - 72];

  // The queue lock (robust, process-shared) and what it protects. Appends
  // do not take it; attach, close, reclaiming space and repair do.
  pthread_mutex_t lock;
  uint8_t pad2[64 - sizeof(pthread_mutex_t) % 64];
  uint32_t next_generation;
  uint32_t unlinked;              // set by the close that unlinked the name
  uint64_t lock_recoveries;       // EOWNERDEAD repairs
  std::atomic<uint64_t> abandoned_frames;  // counted by whoever abandons
  uint64_t released_participants;
  int64_t last_probe_ns;          // rate limit for liveness probes
  std::atomic<uint64_t> head;     // stored under the lock, read by anyone
  std::atomic<uint64_t> space_end;  // likewise; see "Space is handed to writers zeroed"
  uint8_t pad3[64 - 56];

  // (tail, next_sequence) change together in one 16-byte compare-and-swap
  // (queue_participant.cc: TailCompareExchange); readers load `tail` alone.
  alignas(16) std::atomic<uint64_t> tail;
  std::atomic<uint64_t> next_sequence;
  uint8_t pad4[64 - 16];
  std::atomic<uint32_t> data_event;   // EventWord: readers wait for frames
  uint8_t pad5[64 - 4];
  std::atomic<uint32_t> space_event;  // EventWord: writers wait for space
  uint8_t pad6[64 - 4];
};
inline constexpr size_t kHeaderSize = sizeof(QueueHeader);
static_assert(kHeaderSize % 64 == 0, "header alignment");

inline constexpr size_t AlignUp(size_t n, size_t a) { return (n + a - 1) / a * a; }

// The frame size for a message (0 if it cannot be represented).
inline size_t FrameSize(size_t sender, size_t type, size_t body) {
  if (sender > 255 || type > kMaxTypeLength || body > kMaxFrameLength) return 0;
  const size_t size = AlignUp(kFrameHeaderSize + sender + type + body, kFrameAlign);
  return size <= kMaxFrameLength ? size : 0;
}

}  // namespace syncstream::queue_internal

#endif  // SYNCSTREAM_QUEUE_INTERNAL_LAYOUT_H_
