// RecordStore: the last N records, in the order they were appended.
//
// Every syncstream buffer keeps its lines here. Appends from many threads are
// totally ordered by a position (0, 1, 2, ...) taken with one atomic
// increment; each record is copied into a preallocated slot (text of up to 136
// bytes inline, sender and type names interned once per store), so a steady
// stream of appends does not allocate. A record is visible to readers whole or
// not at all.
//
//   auto store = RecordStore::Create(1000);       // InvalidArgument if 0
//   (*store)->Append(record);                     // any thread
//   std::vector<Record> last = (*store)->Read(10);
//
// Followers (tail -f style) use positions: ReadFrom(next, ...) and
// WaitForAppend(next, deadline).
#ifndef SYNCSTREAM_CORE_RECORD_STORE_H_
#define SYNCSTREAM_CORE_RECORD_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "syncstream/core/internal/name_table.h"
#include "syncstream/core/record.h"

namespace syncstream {
namespace internal {
struct RecordSlot;
}  // namespace internal

class RecordStore {
 public:
  // `capacity` (the N of "the last N records") must be at least 1.
  static absl::StatusOr<std::unique_ptr<RecordStore>> Create(size_t capacity);

  RecordStore(const RecordStore&) = delete;
  RecordStore& operator=(const RecordStore&) = delete;
  ~RecordStore();

  size_t capacity() const { return capacity_; }

  // Appends a copy of `record`, evicting the oldest beyond capacity. Returns
  // the record's position. Thread-safe. An append never waits for a writer
  // that took an earlier position but has not started copying its record
  // (say it was preempted in between): once that earlier position is older
  // than the last N, the later writer takes the slot and the late record
  // counts as evicted, exactly as if it had been copied and then evicted.
  // It waits only for a writer in the middle of copying into the same slot.
  uint64_t Append(const Record& record);
  // Appends copies of `records` at consecutive positions, in order, as one
  // claim (one atomic increment for all, names interned once per run of
  // equal names): for a single thread delivering batches, such as a
  // LineProcBuffer's collector. Returns the first record's position
  // (end_position() if `records` is empty). Thread-safe.
  uint64_t AppendBatch(absl::Span<const Record> records);

  // All records held, oldest first.
  std::vector<Record> Read() const { return Read(capacity_); }
  // The last `n` records held (all of them if fewer), oldest first.
  std::vector<Record> Read(size_t n) const;
  // The number of records held: min(appended since the last Clear(), N).
  size_t Size() const;
  // Forgets every record held. Positions keep increasing.
  void Clear();

  // The position the next appended record will get.
  uint64_t end_position() const {
    return next_position_.load(std::memory_order_acquire);
  }
  // Up to `max_records` records at positions >= `from`, oldest first; records
  // already evicted or cleared are skipped. `*next` receives the position to
  // continue from.
  std::vector<Record> ReadFrom(uint64_t from, size_t max_records,
                               uint64_t* next) const;
  // Blocks until a record at position >= `position` was appended or the
  // deadline passes; returns whether one was.
  bool WaitForAppend(uint64_t position, absl::Time deadline) const;

 private:
  explicit RecordStore(size_t capacity);

  // The oldest position still readable.
  uint64_t FirstPosition(uint64_t end) const;
  // Copies the record at `position` into `out` once its writer has finished;
  // false if it was overwritten (evicted) meanwhile.
  bool CopyAt(uint64_t position, Record* out) const;
  // Copies `record` into the slot of `position`, which this writer took
  // (unless a later position overtook it, see internal::RecordSlot::Claim).
  void StoreAt(uint64_t position, const Record& record,
               const std::string* sender, const std::string* type);
  // Wakes followers sleeping in WaitForAppend, if any.
  void NotifyWaiters();

  // The slot of `position`: position % capacity_, computed with a
  // multiplication by `slot_magic_` instead of a 64-bit division.
  size_t SlotIndex(uint64_t position) const;

  const size_t capacity_;
  const uint64_t slot_magic_;  // UINT64_MAX / capacity_
  std::unique_ptr<internal::RecordSlot[]> slots_;
  alignas(64) std::atomic<uint64_t> next_position_{0};
  alignas(64) std::atomic<uint64_t> cleared_before_{0};
  // Followers sleeping in WaitForAppend; writers notify only when non-zero.
  mutable std::atomic<int> waiters_{0};
  mutable std::mutex wait_mutex_;
  mutable std::condition_variable wait_cv_;
  // Sender and type names, interned once per store.
  internal::NameTable names_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_RECORD_STORE_H_
