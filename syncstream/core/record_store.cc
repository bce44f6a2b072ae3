#include "syncstream/core/record_store.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "syncstream/core/internal/spin_lock.h"

namespace syncstream {
namespace {

// Copies into reused storage: assign() keeps the target's capacity, and the
// fields that rarely change (sender, type, an empty trace) are compared
// before they are copied, which is cheaper than a copy call on the hot path.
void CopyRecord(const Record& from, Record* to) {
  to->kind = from.kind;
  if (to->sender != from.sender) to->sender.assign(from.sender);
  if (to->type != from.type) to->type.assign(from.type);
  to->sequence = from.sequence;
  to->timestamp = from.timestamp;
  to->text.assign(from.text);
  if (!from.trace.empty() || !to->trace.empty()) to->trace = from.trace;
  to->continued = from.continued;
}

}  // namespace

// Cache-line aligned so that two writers on different cores filling
// neighbouring positions do not share a line.
struct alignas(64) RecordStore::Slot {
  internal::SpinLock lock;  // held for one record copy
  // 1 + the position held; 0 while the slot has never been written. Changed
  // only under `lock`, read without it by the next writer of the slot.
  std::atomic<uint64_t> position_plus_one{0};
  Record record;
};

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
  const uint64_t position =
      next_position_.fetch_add(1, std::memory_order_acq_rel);
  Slot& slot = slots_[SlotIndex(position)];
  // The slot's previous occupant is position - capacity; its writer claimed
  // earlier and may still be copying. Wait for it so order is kept.
  const uint64_t expected =
      position >= capacity_ ? position - capacity_ + 1 : 0;
  // Only this writer moves the slot on from `expected`, so watching it needs
  // no lock; the lock then keeps readers out during the copy.
  for (internal::Backoff backoff;
       slot.position_plus_one.load(std::memory_order_acquire) != expected;
       backoff.Pause()) {
  }
  slot.lock.lock();
  CopyRecord(record, &slot.record);
  slot.position_plus_one.store(position + 1, std::memory_order_release);
  slot.lock.unlock();
  if (waiters_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> guard(wait_mutex_);
    wait_cv_.notify_all();
  }
  return position;
}

uint64_t RecordStore::FirstPosition(uint64_t end) const {
  uint64_t first = end > capacity_ ? end - capacity_ : 0;
  return std::max(first, cleared_before_.load(std::memory_order_acquire));
}

bool RecordStore::CopyAt(uint64_t position, Record* out) const {
  Slot& slot = slots_[SlotIndex(position)];
  for (internal::Backoff backoff;; backoff.Pause()) {
    slot.lock.lock();
    const uint64_t held = slot.position_plus_one.load(std::memory_order_relaxed);
    if (held == position + 1) {
      CopyRecord(slot.record, out);
      slot.lock.unlock();
      return true;
    }
    slot.lock.unlock();
    if (held > position + 1) return false;  // overwritten (evicted)
    // Claimed but not yet copied in by its writer: wait for it.
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
