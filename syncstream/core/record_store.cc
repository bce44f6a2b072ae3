#include "syncstream/core/record_store.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"

namespace syncstream {
namespace {

// A test-and-test-and-set lock held for the few hundred nanoseconds of one
// record copy. Under contention it yields the CPU rather than spin, since
// writers may outnumber cores.
class SlotLock {
 public:
  void lock() {
    for (int spins = 0;; ++spins) {
      if (!locked_.load(std::memory_order_relaxed) &&
          !locked_.exchange(true, std::memory_order_acquire)) {
        return;
      }
      if (spins > 64) std::this_thread::yield();
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

void CopyRecord(const Record& from, Record* to) {
  to->kind = from.kind;
  to->sender.assign(from.sender);  // assign() reuses capacity
  to->type.assign(from.type);
  to->sequence = from.sequence;
  to->timestamp = from.timestamp;
  to->text.assign(from.text);
  to->trace = from.trace;
  to->continued = from.continued;
}

}  // namespace

struct RecordStore::Slot {
  SlotLock lock;
  // 1 + the position held; 0 while the slot has never been written.
  uint64_t position_plus_one = 0;
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
    : capacity_(capacity), slots_(new Slot[capacity]) {}

RecordStore::~RecordStore() = default;

uint64_t RecordStore::Append(const Record& record) {
  const uint64_t position =
      next_position_.fetch_add(1, std::memory_order_acq_rel);
  Slot& slot = slots_[position % capacity_];
  // The slot's previous occupant is position - capacity; its writer claimed
  // earlier and may still be copying. Wait for it so order is kept.
  const uint64_t expected =
      position >= capacity_ ? position - capacity_ + 1 : 0;
  for (int spins = 0;; ++spins) {
    slot.lock.lock();
    if (slot.position_plus_one == expected) break;
    slot.lock.unlock();
    if (spins > 16) std::this_thread::yield();
  }
  CopyRecord(record, &slot.record);
  slot.position_plus_one = position + 1;
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
  Slot& slot = slots_[position % capacity_];
  for (int spins = 0;; ++spins) {
    slot.lock.lock();
    if (slot.position_plus_one == position + 1) {
      CopyRecord(slot.record, out);
      slot.lock.unlock();
      return true;
    }
    const bool overwritten = slot.position_plus_one > position + 1;
    slot.lock.unlock();
    if (overwritten) return false;
    // Claimed but not yet copied in by its writer: wait for it.
    if (spins > 16) std::this_thread::yield();
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
