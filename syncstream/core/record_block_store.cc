#include "syncstream/core/record_block_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace syncstream {
namespace {

// A block of one record, for Append(Record).
class SingleRecordBlock final : public RecordBlock {
 public:
  explicit SingleRecordBlock(Record record) : record_(std::move(record)) {}
  size_t size() const override { return 1; }
  void Decode(size_t, Record* into) const override { *into = record_; }

 private:
  const Record record_;
};

// A part of a held block to decode outside the lock.
struct Piece {
  std::shared_ptr<const RecordBlock> block;
  size_t begin;
  size_t end;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RecordBlockStore>> RecordBlockStore::Create(
    size_t capacity) {
  if (capacity < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("record block store: capacity (maxlen) must be at "
                     "least 1, got ",
                     capacity));
  }
  return std::unique_ptr<RecordBlockStore>(new RecordBlockStore(capacity));
}

RecordBlockStore::RecordBlockStore(size_t capacity) : capacity_(capacity) {}

RecordBlockStore::~RecordBlockStore() = default;

uint64_t RecordBlockStore::FirstPositionLocked(uint64_t end) const {
  uint64_t first = end > capacity_ ? end - capacity_ : 0;
  return std::max(first, cleared_before_);
}

uint64_t RecordBlockStore::Append(std::shared_ptr<const RecordBlock> block) {
  const size_t size = block == nullptr ? 0 : block->size();
  std::shared_ptr<const RecordBlock> dropped;  // freed outside the lock
  uint64_t first;
  bool notify;
  {
    MutexLock guard(&mutex_);
    first = end_.load(std::memory_order_relaxed);
    if (size == 0) return first;
    blocks_.push_back({first, std::move(block)});
    end_.store(first + size, std::memory_order_release);
    // Usually at most one block leaves per append: keep the last one
    // dropped alive until the lock is released.
    const uint64_t keep = FirstPositionLocked(first + size);
    while (blocks_.front().first + blocks_.front().block->size() <= keep) {
      dropped = std::move(blocks_.front().block);
      blocks_.pop_front();
    }
    notify = waiters_ > 0;
  }
  if (notify) appended_.SignalAll();
  return first;
}

uint64_t RecordBlockStore::Append(Record record) {
  return Append(std::make_shared<SingleRecordBlock>(std::move(record)));
}

std::vector<Record> RecordBlockStore::Collect(uint64_t first,
                                              uint64_t end) const {
  std::vector<Piece> pieces;
  {
    MutexLock guard(&mutex_);
    // The first block holding `first`: the last one starting at or before it.
    auto it = std::upper_bound(
        blocks_.begin(), blocks_.end(), first,
        [](uint64_t position, const Held& held) {
          return position < held.first;
        });
    if (it != blocks_.begin()) --it;
    for (; it != blocks_.end() && it->first < end; ++it) {
      const uint64_t block_end = it->first + it->block->size();
      if (block_end <= first) continue;
      const uint64_t from = std::max(first, it->first);
      const uint64_t to = std::min(end, block_end);
      pieces.push_back({it->block, static_cast<size_t>(from - it->first),
                        static_cast<size_t>(to - it->first)});
    }
  }
  size_t total = 0;
  for (const Piece& piece : pieces) total += piece.end - piece.begin;
  std::vector<Record> records(total);
  size_t out = 0;
  for (const Piece& piece : pieces) {
    for (size_t i = piece.begin; i < piece.end; ++i) {
      piece.block->Decode(i, &records[out++]);
    }
  }
  return records;
}

std::vector<Record> RecordBlockStore::Read(size_t n) const {
  uint64_t first;
  uint64_t end;
  {
    MutexLock guard(&mutex_);
    end = end_.load(std::memory_order_relaxed);
    first = FirstPositionLocked(end);
  }
  if (end - first > n) first = end - n;
  // Blocks only leave from the front, and only when their records are older
  // than the last N: if an append evicted some of [first, end) meanwhile,
  // Collect finds fewer records, as a Read() a moment later would.
  return Collect(first, end);
}

std::vector<Record> RecordBlockStore::ReadFrom(uint64_t from,
                                               size_t max_records,
                                               uint64_t* next) const {
  uint64_t first;
  uint64_t end;
  {
    MutexLock guard(&mutex_);
    end = end_.load(std::memory_order_relaxed);
    first = std::max(from, FirstPositionLocked(end));
  }
  if (end > first && end - first > max_records) end = first + max_records;
  *next = std::max(from, end);
  if (end <= first) return {};
  return Collect(first, end);
}

size_t RecordBlockStore::Size() const {
  MutexLock guard(&mutex_);
  const uint64_t end = end_.load(std::memory_order_relaxed);
  return static_cast<size_t>(end - FirstPositionLocked(end));
}

void RecordBlockStore::Clear() {
  std::deque<Held> dropped;  // freed outside the lock
  {
    MutexLock guard(&mutex_);
    cleared_before_ = end_.load(std::memory_order_relaxed);
    dropped.swap(blocks_);
  }
}

bool RecordBlockStore::WaitForAppend(uint64_t position,
                                     absl::Time deadline) const {
  if (end_position() > position) return true;
  MutexLock lock(&mutex_);
  ++waiters_;
  const bool appended = appended_.WaitUntilReady(&mutex_, deadline, [&] {
    return end_.load(std::memory_order_relaxed) > position;
  });
  --waiters_;
  return appended;
}

}  // namespace syncstream
