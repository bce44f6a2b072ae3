#include "syncstream/core/record_store.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "syncstream/core/internal/spin_lock.h"

namespace syncstream {
namespace {

// Store ids are never reused, so a thread's name cache entry for a destroyed
// store can never match a new one.
std::atomic<uint64_t> next_store_id{1};

// The calling thread's last few interned names, to skip the table's lock on
// the append path.
struct NameCacheEntry {
  uint64_t store_id = 0;
  const std::string* name = nullptr;
};
constexpr int kNameCacheSize = 4;
thread_local NameCacheEntry name_cache[kNameCacheSize];
thread_local int name_cache_next = 0;

// Whether two names are equal; inline for short names, where a call to
// memcmp would cost more than the comparison.
bool SameName(const std::string& a, const std::string& b) {
  const size_t size = a.size();
  if (size != b.size()) return false;
  if (size > 16) return std::memcmp(a.data(), b.data(), size) == 0;
  for (size_t i = 0; i < size; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Append prefetches the slot kPrefetchDistance positions ahead in rings of
// at least kPrefetchMinSlots slots (1 MiB and more: beyond what stays in a
// core's cache).
constexpr size_t kPrefetchDistance = 4;
constexpr size_t kPrefetchMinSlots = 4096;

const std::string& EmptyName() {
  static const std::string* empty = new std::string;
  return *empty;
}

}  // namespace

// One record. Writers never lock a slot for a record whose text fits inline
// and that has no trace (every ordinary line): the slot is a sequence lock.
// The writer claims the slot by a compare-and-swap of `position_plus_one`
// to its position + 1 with kWriting set (see Claim), stores the fields (all
// atomics, relaxed), then publishes position + 1 (release). A reader copies
// the fields and keeps the copy only if `position_plus_one` was the position
// it wanted before and after. The parts that are not atomics (a long text, a
// trace) are written and read under `lock`, and are left untouched (stale,
// unused) by short records.
//
// Laid out so that an append of a short line writes two cache lines (the
// header and the start of the text); sender and type are pointers to
// interned names. Cache-line aligned so that writers on different cores
// filling neighbouring positions do not share a line.
struct alignas(64) RecordStore::Slot {
  static constexpr size_t kInlineWords = 17;
  static constexpr size_t kInlineText = kInlineWords * 8;  // 136 bytes
  static constexpr uint64_t kWriting = uint64_t{1} << 63;
  // Flags in `meta` beside the kind (low 8 bits).
  static constexpr uint32_t kContinued = 1u << 8;
  static constexpr uint32_t kLongText = 1u << 9;  // text in overflow_text
  static constexpr uint32_t kHasTrace = 1u << 10;

  // 1 + the position held (0: never written); with kWriting set while the
  // writer of that position is storing it.
  std::atomic<uint64_t> position_plus_one{0};
  std::atomic<uint32_t> meta{0};
  std::atomic<uint32_t> text_size{0};  // of the inline text
  std::atomic<uint64_t> sequence{0};
  std::atomic<int64_t> unix_nanos{0};
  std::atomic<const std::string*> sender{&EmptyName()};
  std::atomic<const std::string*> type{&EmptyName()};
  std::atomic<uint64_t> text_words[kInlineWords] = {};
  // Guards the two below (readers take it too, hence mutable).
  mutable internal::SpinLock lock;
  std::string overflow_text;
  std::vector<std::string> trace;

  // Makes the writer of `position` the slot's owner: true once it is, false
  // if a later position already took the slot (this record was evicted
  // before it was stored). Waits only while an earlier position's writer is
  // in the middle of Store(); an earlier writer that has not started (it was
  // preempted between taking its position and claiming) is overtaken: its
  // record is older than the last `capacity` positions, so it could no
  // longer be read anyway, and its own Claim() then fails. The position a
  // slot holds only ever increases, so order is kept.
  bool Claim(uint64_t position, uint64_t previous_plus_one) {
    const uint64_t mine = position + 1;
    uint64_t held = previous_plus_one;  // the usual case: a complete occupant
    for (internal::Backoff backoff;;) {
      // Checked on every round, before any exchange: a slot must never go
      // back from a later position to this one.
      if ((held & ~kWriting) > mine) return false;  // overtaken: evicted
      if (held & kWriting) {  // an earlier writer is storing: let it finish
        backoff.Pause();
        held = position_plus_one.load(std::memory_order_acquire);
        continue;
      }
      // `held` is complete and earlier (normally position - capacity):
      // take the slot over from it. A failed exchange leaves the value
      // found in `held`.
      if (position_plus_one.compare_exchange_strong(
              held, mine | kWriting, std::memory_order_acquire,
              std::memory_order_acquire)) {
        // The field stores below must not become visible before kWriting.
        std::atomic_thread_fence(std::memory_order_release);
        return true;
      }
    }
  }

  // Called by the writer of `position` after Claim() returned true.
  void Store(uint64_t position, const Record& from,
             const std::string* interned_sender,
             const std::string* interned_type) {
    const bool long_text = from.text.size() > kInlineText;
    const bool has_trace = !from.trace.empty();
    uint32_t flags = static_cast<uint32_t>(from.kind);
    if (from.continued) flags |= kContinued;
    if (long_text) flags |= kLongText;
    if (has_trace) flags |= kHasTrace;
    meta.store(flags, std::memory_order_relaxed);
    sequence.store(from.sequence, std::memory_order_relaxed);
    unix_nanos.store(absl::ToUnixNanos(from.timestamp),
                     std::memory_order_relaxed);
    sender.store(interned_sender, std::memory_order_relaxed);
    type.store(interned_type, std::memory_order_relaxed);
    if (long_text || has_trace) {
      std::lock_guard<internal::SpinLock> guard(lock);
      if (long_text) overflow_text.assign(from.text);
      if (has_trace) trace = from.trace;
    }
    if (!long_text) {
      StoreInlineText(from.text);
    }
    position_plus_one.store(position + 1, std::memory_order_release);
  }

  // Stores up to kInlineText bytes into text_words, word by word, loading
  // each word straight from `text` (staging the text in a local array first
  // made every word load wait for a failed store-to-load forward). Bytes of
  // the last word beyond the text are zero.
  void StoreInlineText(const std::string& text) {
    const char* data = text.data();
    const size_t size = text.size();
    const size_t full = size / 8;
    for (size_t i = 0; i < full; ++i) {
      uint64_t word;
      std::memcpy(&word, data + 8 * i, 8);
      text_words[i].store(word, std::memory_order_relaxed);
    }
    if (const size_t rest = size % 8; rest != 0) {
      uint64_t word = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      if (size >= 8) {
        // The last 8 bytes of the text, shifted so that the `rest` bytes
        // after the full words come first: one load instead of a byte loop.
        std::memcpy(&word, data + size - 8, 8);
        word >>= 8 * (8 - rest);
      } else {
        std::memcpy(&word, data, rest);
      }
#else
      std::memcpy(&word, data + 8 * full, rest);
#endif
      text_words[full].store(word, std::memory_order_relaxed);
    }
    text_size.store(static_cast<uint32_t>(size), std::memory_order_relaxed);
  }

  // Copies the record at `position` into `to`: kCopied, or kEvicted when the
  // slot moved on, or kNotYet when its writer has not finished.
  enum class LoadResult { kCopied, kEvicted, kNotYet };
  LoadResult Load(uint64_t position, Record* to) const {
    const uint64_t before = position_plus_one.load(std::memory_order_acquire);
    const uint64_t held = before & ~kWriting;
    if (held > position + 1) return LoadResult::kEvicted;
    if (held < position + 1 || (before & kWriting)) return LoadResult::kNotYet;
    const uint32_t flags = meta.load(std::memory_order_relaxed);
    to->kind = static_cast<RecordKind>(flags & 0xff);
    to->continued = (flags & kContinued) != 0;
    to->sequence = sequence.load(std::memory_order_relaxed);
    to->timestamp =
        absl::FromUnixNanos(unix_nanos.load(std::memory_order_relaxed));
    to->sender.assign(*sender.load(std::memory_order_relaxed));
    to->type.assign(*type.load(std::memory_order_relaxed));
    if (flags & (kLongText | kHasTrace)) {
      std::lock_guard<internal::SpinLock> guard(lock);
      if (flags & kLongText) to->text.assign(overflow_text);
      if (flags & kHasTrace) to->trace = trace;
    }
    if (!(flags & kHasTrace)) to->trace.clear();
    if (!(flags & kLongText)) {
      // May be torn if a writer moved in meanwhile: bounded here, and the
      // whole copy discarded below.
      const size_t size = std::min<size_t>(
          text_size.load(std::memory_order_relaxed), kInlineText);
      uint64_t words[kInlineWords];
      const size_t used = (size + 7) / 8;
      for (size_t i = 0; i < used; ++i) {
        words[i] = text_words[i].load(std::memory_order_relaxed);
      }
      to->text.assign(reinterpret_cast<const char*>(words), size);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (position_plus_one.load(std::memory_order_relaxed) != before) {
      return LoadResult::kEvicted;
    }
    return LoadResult::kCopied;
  }
};

const std::string* RecordStore::Intern(const std::string& name) const {
  if (name.empty()) return &EmptyName();
  for (const NameCacheEntry& entry : name_cache) {
    if (entry.store_id == id_ && SameName(*entry.name, name)) {
      return entry.name;
    }
  }
  const std::string* interned;
  {
    std::lock_guard<std::mutex> guard(names_mutex_);
    interned = &*names_.insert(name).first;
  }
  name_cache[name_cache_next] = NameCacheEntry{id_, interned};
  name_cache_next = (name_cache_next + 1) % kNameCacheSize;
  return interned;
}

absl::StatusOr<std::unique_ptr<RecordStore>> RecordStore::Create(
    size_t capacity) {
  if (capacity < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record store: capacity (maxlen) must be at least 1, got ", capacity));
  }
  return std::unique_ptr<RecordStore>(new RecordStore(capacity));
}

RecordStore::RecordStore(size_t capacity)
    : id_(next_store_id.fetch_add(1, std::memory_order_relaxed)),
      capacity_(capacity),
      slot_magic_(UINT64_MAX / capacity),
      slots_(new Slot[capacity]) {}

size_t RecordStore::SlotIndex(uint64_t position) const {
  // q = floor(position * magic / 2^64) is at most 2 below position /
  // capacity_ (magic is within 2 of 2^64 / capacity_ and position < 2^64),
  // so the remainder below is in [0, 3 * capacity_).
  const uint64_t q = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(position) * slot_magic_) >> 64);
  uint64_t r = position - q * capacity_;
  while (r >= capacity_) r -= capacity_;
  return static_cast<size_t>(r);
}

RecordStore::~RecordStore() = default;

uint64_t RecordStore::Append(const Record& record) {
  // Before taking a position, to keep the time between taking it and
  // claiming its slot short.
  const std::string* sender = Intern(record.sender);
  const std::string* type = Intern(record.type);
  const uint64_t position =
      next_position_.fetch_add(1, std::memory_order_acq_rel);
  const size_t index = SlotIndex(position);
  Slot& slot = slots_[index];
  if (capacity_ >= kPrefetchMinSlots) {
    // A ring this large is not in the caches: ask for the header and text
    // lines of the slot a few appends ahead, so that its writer (often this
    // thread) finds them there.
    size_t ahead = index + kPrefetchDistance;
    if (ahead >= capacity_) ahead -= capacity_;
    const char* line = reinterpret_cast<const char*>(&slots_[ahead]);
    __builtin_prefetch(line, 1);
    __builtin_prefetch(line + 64, 1);
  }
  // The slot's previous occupant is position - capacity; its writer took
  // its position earlier and normally stored it long ago (see Slot::Claim
  // for when it has not).
  const uint64_t previous_plus_one =
      position >= capacity_ ? position - capacity_ + 1 : 0;
  if (slot.Claim(position, previous_plus_one)) {
    slot.Store(position, record, sender, type);
  }
  if (waiters_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> guard(wait_mutex_);
    wait_cv_.notify_all();
  }
  return position;
}

uint64_t RecordStore::AppendBatch(absl::Span<const Record> records) {
  if (records.empty()) return end_position();
  const uint64_t first =
      next_position_.fetch_add(records.size(), std::memory_order_acq_rel);
  const std::string* sender = nullptr;
  const std::string* type = nullptr;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& record = records[i];
    if (i == 0 || record.sender != records[i - 1].sender) {
      sender = Intern(record.sender);
    }
    if (i == 0 || record.type != records[i - 1].type) {
      type = Intern(record.type);
    }
    const uint64_t position = first + i;
    Slot& slot = slots_[SlotIndex(position)];
    // As in Append: wait for the slot's previous occupant (which may be an
    // earlier record of this very batch when it exceeds the capacity).
    const uint64_t expected =
        position >= capacity_ ? position - capacity_ + 1 : 0;
    for (internal::Backoff backoff;
         slot.position_plus_one.load(std::memory_order_acquire) != expected;
         backoff.Pause()) {
    }
    slot.Store(position, record, sender, type);
  }
  if (waiters_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> guard(wait_mutex_);
    wait_cv_.notify_all();
  }
  return first;
}

uint64_t RecordStore::FirstPosition(uint64_t end) const {
  uint64_t first = end > capacity_ ? end - capacity_ : 0;
  return std::max(first, cleared_before_.load(std::memory_order_acquire));
}

bool RecordStore::CopyAt(uint64_t position, Record* out) const {
  Slot& slot = slots_[SlotIndex(position)];
  for (internal::Backoff backoff;; backoff.Pause()) {
    switch (slot.Load(position, out)) {
      case Slot::LoadResult::kCopied:
        return true;
      case Slot::LoadResult::kEvicted:
        return false;
      case Slot::LoadResult::kNotYet:
        break;  // claimed but not yet stored by its writer: wait for it
    }
  }
}

std::vector<Record> RecordStore::Read(size_t n) const {
  uint64_t end = end_position();
  uint64_t first = FirstPosition(end);
  if (end - first > n) first = end - n;
  std::vector<Record> records;
  records.reserve(end - first);
  for (uint64_t position = first; position < end; ++position) {
    records.emplace_back();
    if (!CopyAt(position, &records.back())) records.pop_back();
  }
  return records;
}

std::vector<Record> RecordStore::ReadFrom(uint64_t from, size_t max_records,
                                          uint64_t* next) const {
  uint64_t end = end_position();
  uint64_t first = std::max(from, FirstPosition(end));
  if (end > first && end - first > max_records) end = first + max_records;
  std::vector<Record> records;
  records.reserve(end > first ? end - first : 0);
  for (uint64_t position = first; position < end; ++position) {
    records.emplace_back();
    if (!CopyAt(position, &records.back())) records.pop_back();
  }
  *next = std::max(from, end);
  return records;
}

size_t RecordStore::Size() const {
  uint64_t end = end_position();
  return static_cast<size_t>(end - FirstPosition(end));
}

void RecordStore::Clear() {
  uint64_t end = end_position();
  uint64_t cleared = cleared_before_.load(std::memory_order_relaxed);
  while (cleared < end && !cleared_before_.compare_exchange_weak(
                              cleared, end, std::memory_order_acq_rel)) {
  }
}

bool RecordStore::WaitForAppend(uint64_t position, absl::Time deadline) const {
  if (end_position() > position) return true;
  std::unique_lock<std::mutex> lock(wait_mutex_);
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  bool appended = true;
  while (end_position() <= position) {
    if (deadline == absl::InfiniteFuture()) {
      wait_cv_.wait(lock);
    } else if (wait_cv_.wait_until(lock, absl::ToChronoTime(deadline)) ==
               std::cv_status::timeout) {
      appended = end_position() > position;
      break;
    }
  }
  waiters_.fetch_sub(1, std::memory_order_seq_cst);
  return appended;
}

}  // namespace syncstream
