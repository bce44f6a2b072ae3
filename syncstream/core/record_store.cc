#include "syncstream/core/record_store.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/internal/record_slot.h"
#include "syncstream/core/internal/spin_lock.h"

namespace syncstream {
namespace {

// Append prefetches the slot kPrefetchDistance positions ahead in rings of
// at least kPrefetchMinSlots slots (1 MiB and more: beyond what stays in a
// core's cache).
constexpr size_t kPrefetchDistance = 4;
constexpr size_t kPrefetchMinSlots = 4096;

}  // namespace

absl::StatusOr<std::unique_ptr<RecordStore>> RecordStore::Create(
    size_t capacity) {
  if (capacity < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record store: capacity (maxlen) must be at least 1, got ", capacity));
  }
  return std::unique_ptr<RecordStore>(new RecordStore(capacity));
}

RecordStore::RecordStore(size_t capacity)
    : capacity_(capacity),
      slot_magic_(UINT64_MAX / capacity),
      slots_(new internal::RecordSlot[capacity]) {}

// A 64-bit division on every append cost 40-90 cycles; a multiplication by
// the precomputed reciprocal and a correction do the same.
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

void RecordStore::StoreAt(uint64_t position, const Record& record,
                          const std::string* sender,
                          const std::string* type) {
  const size_t index = SlotIndex(position);
  internal::RecordSlot& slot = slots_[index];
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
  // its position earlier and normally stored it long ago (see RecordSlot::Claim
  // for when it has not).
  const uint64_t previous_plus_one =
      position >= capacity_ ? position - capacity_ + 1 : 0;
  if (slot.Claim(position, previous_plus_one)) {
    slot.Store(position, record, sender, type);
  }
}

void RecordStore::NotifyWaiters() {
  if (waiters_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> guard(wait_mutex_);
    wait_cv_.notify_all();
  }
}

uint64_t RecordStore::Append(const Record& record) {
  // Before taking a position, to keep the time between taking it and
  // claiming its slot short.
  const std::string* sender = names_.Intern(record.sender);
  const std::string* type = names_.Intern(record.type);
  const uint64_t position =
      next_position_.fetch_add(1, std::memory_order_acq_rel);
  StoreAt(position, record, sender, type);
  NotifyWaiters();
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
      sender = names_.Intern(record.sender);
    }
    if (i == 0 || record.type != records[i - 1].type) {
      type = names_.Intern(record.type);
    }
    // A batch longer than the capacity overtakes its own earlier records,
    // which are then evicted, as in Append.
    StoreAt(first + i, record, sender, type);
  }
  NotifyWaiters();
  return first;
}

uint64_t RecordStore::FirstPosition(uint64_t end) const {
  uint64_t first = end > capacity_ ? end - capacity_ : 0;
  return std::max(first, cleared_before_.load(std::memory_order_acquire));
}

bool RecordStore::CopyAt(uint64_t position, Record* out) const {
  internal::RecordSlot& slot = slots_[SlotIndex(position)];
  for (internal::Backoff backoff;; backoff.Pause()) {
    switch (slot.Load(position, out)) {
      case internal::RecordSlot::LoadResult::kCopied:
        return true;
      case internal::RecordSlot::LoadResult::kEvicted:
        return false;
      case internal::RecordSlot::LoadResult::kNotYet:
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
  const bool appended = WaitUntilReady(wait_cv_, lock, deadline,
                                       [&] { return end_position() > position; });
  waiters_.fetch_sub(1, std::memory_order_seq_cst);
  return appended;
}

}  // namespace syncstream
