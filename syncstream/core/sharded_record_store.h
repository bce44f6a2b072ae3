// ShardedRecordStore: the last N records appended by many threads, with no
// cache line shared between appending threads.
//
// Each appending thread gets a shard of its own, a ring that only it writes,
// so an append touches memory of that thread only (plus one read of a flag
// that followers set rarely): on a multi-core machine appends from different
// threads do not slow each other down. Each record carries an ordering key
// from a clock that is monotonic across CPUs (internal/order_clock.h: the
// TSC where the kernel trusts it, CLOCK_MONOTONIC otherwise); readers merge
// the shards by key. A steady stream of appends does not allocate.
//
//   auto store = ShardedRecordStore::Create(1000);  // InvalidArgument if 0
//   (*store)->Append(record);                       // any thread
//   std::vector<Record> last = (*store)->Read(10);
//
// Guarantees (N = capacity()):
//  - Read() / Read(n) return the last N (n) records appended across all
//    threads, oldest first, in an order consistent with causality: if one
//    Append returned before another began (in any threads), the first
//    record comes first; records of one thread keep their order. A read
//    racing with appends returns a causally closed set: it may leave out
//    appends that had not returned when it began, never a record that one
//    of its records depends on.
//  - Size() = min(records appended since the last Clear(), N), exactly once
//    no append is in progress.
//  - Followers (tail -f): ReadFrom(cursor, ...) returns every record once,
//    each thread's records in order, and never a record before one that
//    causally precedes it. Records that arrive in one call come sorted by
//    key. A follower loses a record only if its thread appended N more
//    records after it, or Clear() forgot it, before the follower read it
//    (it is more than N records of that thread behind); ReadFrom counts
//    such records in `*skipped`.
//
// Memory: each appending thread's shard holds up to N records, allocated
// lazily in chunks of 64 slots (256 bytes each) as the thread appends, so
// the store holds at most (writing threads) x N slots, and a thread that
// appended k records uses about k (rounded up to 64) slots. The shard of a
// thread that exited stays readable until all its records have left the
// last N (or were cleared); it is freed then, at the latest when a new
// thread starts appending or on Clear(), so programs that start many
// short-lived threads keep a bounded number of shards.
//
// Order keys: a record's key is read (internal/order_clock.h: after every
// earlier load of the writing thread) after the append began, or, for
// AppendLine, after the LineWriter Write that made the line began, and
// before the record is published. That is all the guarantees need: a
// write B that saw A's publication read its key after that load, so after
// A's publication, which came after A's key read: B's key is larger. Keys
// of one shard are made strictly increasing (a repeated clock value, or the
// late shard below where threads meet, is raised to the shard's last key +
// 1), which keeps each key at or below the clock's value when its record
// is published (a publication takes more than one tick), so the argument
// still holds for a raised key. Each line of a multi-line Write takes its
// own key (LineWriter stamps each line).
//
// Appends after the calling thread's thread-local storage was destroyed
// (from another thread_local's destructor) go to a shared shard under a
// mutex: still stored and ordered, just slower.
#ifndef SYNCSTREAM_CORE_SHARDED_RECORD_STORE_H_
#define SYNCSTREAM_CORE_SHARDED_RECORD_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/core/internal/name_table.h"
#include "syncstream/core/line_writer.h"
#include "syncstream/core/record.h"

namespace syncstream {

class ShardedRecordStore {
 public:
  // A follower's place in the store: for each shard (writing thread), how
  // many of its records the follower has been given or skipped. A
  // default-constructed cursor is at the beginning (every record still held
  // is ahead of it). Copyable; independent of the store's lifetime.
  class Cursor {
   public:
    Cursor() = default;

    // Whether this cursor is at or past `target` on every shard that
    // `target` knows: a follower at this cursor has been handed every record
    // that was appended before `target` was taken (from the same store).
    bool Covers(const Cursor& target) const;
    // The number of records this cursor is behind `target` on the shards
    // both know (for messages).
    uint64_t Behind(const Cursor& target) const;

   private:
    friend class ShardedRecordStore;
    uint64_t Next(uint64_t shard_id) const;
    // (shard id, records of that shard passed), sorted by shard id.
    std::vector<std::pair<uint64_t, uint64_t>> next_;
    // Every shard with a larger id was created after this cursor was made
    // by the store: a known shard missing from next_ no longer existed.
    uint64_t last_shard_id_ = 0;
  };

  // `capacity` (the N of "the last N records") must be at least 1.
  static absl::StatusOr<std::unique_ptr<ShardedRecordStore>> Create(
      size_t capacity);

  ShardedRecordStore(const ShardedRecordStore&) = delete;
  ShardedRecordStore& operator=(const ShardedRecordStore&) = delete;
  // No thread may append or read meanwhile.
  ~ShardedRecordStore();

  size_t capacity() const { return capacity_; }

  // Appends a copy of `record` to the calling thread's shard. Thread-safe.
  void Append(const Record& record);
  // Appends a LineWriter's line, handed over in place, as Append() would
  // the Record it makes (LineView::record()), without building one. Its
  // order key, if it has one (LineWriter's Stamping::kWallClockAndOrderKey),
  // orders it; otherwise the store takes a key as Append() does. Either way
  // the key is read after the Write that made the line began, so the
  // guarantees above hold (see "Order keys" below).
  void AppendLine(const LineView& line);

  // All records held (the last N), oldest first.
  std::vector<Record> Read() const { return Read(capacity_); }
  // The last `n` records held (all of them if fewer), oldest first.
  std::vector<Record> Read(size_t n) const;
  // The number of records held: min(appended since the last Clear(), N).
  size_t Size() const;
  // Forgets every record held.
  void Clear();

  // A cursor past every record appended so far.
  Cursor End() const;
  // Up to `max_records` records ahead of `from`, in an order consistent with
  // causality (see above). `*next` receives the cursor to continue from;
  // `*skipped` (if given) the number of records ahead of `from` that were
  // evicted or cleared before this call could read them.
  std::vector<Record> ReadFrom(const Cursor& from, size_t max_records,
                               Cursor* next, uint64_t* skipped = nullptr) const;
  // Blocks until a record ahead of `from` is readable or the deadline
  // passes; returns whether one is.
  bool WaitForAppend(const Cursor& from, absl::Time deadline) const;

  // The number of shards kept (threads that appended and whose shard was not
  // freed yet), for tests and diagnostics.
  size_t shard_count() const;

 private:
  struct Shard;
  struct ShardRange;
  explicit ShardedRecordStore(size_t capacity);

  // A record's interned sender and type.
  struct Names {
    const std::string* sender = nullptr;
    const std::string* type = nullptr;
  };

  // The calling thread's shard, created on its first append; null once the
  // thread's thread-local storage is being destroyed.
  Shard* ThisThreadShard();  // the common case: a thread-local cache hit
  Shard* FindThisThreadShard();
  Shard* RegisterShard();  // for the calling thread
  // Takes the next slot of the calling thread's shard (or of the shard for
  // appends after thread exit) keyed `key` (0: a key read now), lets
  // `store(slot, position, sender, type)` fill it with the names that
  // `intern(shard)` returns, and publishes it.
  template <typename Intern, typename StoreFields>
  void AppendWith(uint64_t key, Intern intern, StoreFields store);
  template <typename Intern, typename StoreFields>
  void AppendTo(Shard& shard, uint64_t key, Intern intern, StoreFields store);
  void NotifyWaiters() {
    if (__builtin_expect(wake_wanted_.load(std::memory_order_relaxed), 0)) {
      NotifyWaitersSlow();
    }
  }
  void NotifyWaitersSlow();

  // The shards, and for each the range of positions a read may return:
  // records held and keyed below `horizon` (taken before).
  std::vector<ShardRange> Snapshot(uint64_t horizon) const;
  // Frees shards of exited threads that hold no record of the last N any
  // more. Unless `force`, only when enough of them wait (to keep the cost
  // of a pass, a walk over the last N keys, amortized). Called with
  // shards_mutex_ held.
  void ReleaseExitedShardsLocked(bool force);
  bool HasRecordAhead(const Cursor& from) const;

  const uint64_t id_;  // process-unique, never reused
  const size_t capacity_;
  const size_t chunk_slots_;  // slots per lazily allocated chunk
  internal::NameTable names_;

  mutable std::mutex shards_mutex_;
  std::vector<std::shared_ptr<Shard>> shards_;  // by id, ascending
  uint64_t last_shard_id_ = 0;
  // Exited shards kept after the last release pass (to space out passes).
  size_t exited_kept_ = 0;
  // Shards freed recently, as (id, records it had): a follower still behind
  // on them is told how many it lost. Bounded (kMaxTombstones).
  std::deque<std::pair<uint64_t, uint64_t>> tombstones_;

  // For appends after a thread's thread-local storage is gone.
  std::mutex late_mutex_;
  Shard* late_shard_ = nullptr;  // guarded by late_mutex_

  // Set by followers about to sleep in WaitForAppend; the first append that
  // sees it clears it and wakes them.
  alignas(64) mutable std::atomic<bool> wake_wanted_{false};
  mutable std::mutex wait_mutex_;
  mutable std::condition_variable wait_cv_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_SHARDED_RECORD_STORE_H_
