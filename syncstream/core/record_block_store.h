// RecordBlockStore: the last N records, appended a block at a time and
// decoded only when read.
//
// A RecordStore copies every record into a slot of its ring as it is
// appended (tens of ns a line). A single collector that receives records in
// blocks it already holds in private memory (a LineProcBuffer's batches,
// copied out of the queue and validated) hands the whole block over instead:
// the store keeps the block as it is, immutable and shared, and decodes a
// record only when someone reads it. An append costs one short lock per
// block, whatever its length. Whole blocks are dropped once every record in
// them is older than the last N; Read, Size and the followers still see
// exactly the last N records, as with a RecordStore.
//
//   auto store = RecordBlockStore::Create(1000);   // InvalidArgument if 0
//   (*store)->Append(std::move(block));            // any thread
//   std::vector<Record> last = (*store)->Read(10);
//
// Followers (tail -f style) use positions, as with a RecordStore:
// ReadFrom(next, ...) and WaitForAppend(next, deadline).
//
// Memory: the records of the blocks that hold the last N, so at most N
// records plus one block's worth.
#ifndef SYNCSTREAM_CORE_RECORD_BLOCK_STORE_H_
#define SYNCSTREAM_CORE_RECORD_BLOCK_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/core/mutex.h"
#include "syncstream/core/record.h"

namespace syncstream {

// An immutable run of records, decoded on demand. Implementations must be
// safe to Decode from several threads at once.
class RecordBlock {
 public:
  virtual ~RecordBlock() = default;
  // The number of records; never changes.
  virtual size_t size() const = 0;
  // Decodes record `index` (< size()) into `*into`, reusing its storage.
  virtual void Decode(size_t index, Record* into) const = 0;
};

class RecordBlockStore {
 public:
  // `capacity` (the N of "the last N records") must be at least 1.
  static absl::StatusOr<std::unique_ptr<RecordBlockStore>> Create(
      size_t capacity);

  RecordBlockStore(const RecordBlockStore&) = delete;
  RecordBlockStore& operator=(const RecordBlockStore&) = delete;
  ~RecordBlockStore();

  size_t capacity() const { return capacity_; }

  // Appends the records of `block` at consecutive positions, in order, and
  // returns the first one's position (end_position() for an empty block,
  // which is not kept). Thread-safe; appends are totally ordered.
  uint64_t Append(std::shared_ptr<const RecordBlock> block);
  // Appends one record (a block of one).
  uint64_t Append(Record record);

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
    return end_.load(std::memory_order_acquire);
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
  // A block held, and the position of its first record.
  struct Held {
    uint64_t first;
    std::shared_ptr<const RecordBlock> block;
  };

  explicit RecordBlockStore(size_t capacity);

  // The oldest position still readable.
  uint64_t FirstPositionLocked(uint64_t end) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The records at positions [first, end), which must be readable.
  std::vector<Record> Collect(uint64_t first, uint64_t end) const;

  const size_t capacity_;
  mutable Mutex mutex_;
  mutable CondVar appended_;
  std::deque<Held> blocks_ ABSL_GUARDED_BY(mutex_);  // by position
  uint64_t cleared_before_ ABSL_GUARDED_BY(mutex_) = 0;
  mutable int waiters_ ABSL_GUARDED_BY(mutex_) = 0;  // in WaitForAppend
  std::atomic<uint64_t> end_{0};    // written under mutex_
};

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_RECORD_BLOCK_STORE_H_
