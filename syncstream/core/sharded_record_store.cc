#include "syncstream/core/sharded_record_store.h"

#include <algorithm>
#include <cstring>
#include <queue>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/internal/asymmetric_fence.h"
#include "syncstream/core/internal/order_clock.h"
#include "syncstream/core/internal/record_slot.h"
#include "syncstream/core/internal/spin_lock.h"

namespace syncstream {
namespace {

using internal::RecordSlot;
using LoadResult = internal::RecordSlot::LoadResult;

// Store ids are never reused, so a thread's cache entry for a destroyed
// store can never match a new one.
std::atomic<uint64_t> next_store_id{1};

constexpr size_t kChunkSlots = 64;
// Release passes run when at least this many exited shards (and twice as
// many as the last pass kept) are waiting.
constexpr size_t kMinExitedForPass = 8;
constexpr size_t kMaxTombstones = 1024;

// Whether two names are equal; inline 8-byte compares for short names,
// where a call to memcmp would cost more than the comparison.
inline bool SameName(const std::string& a, const std::string& b) {
  const size_t size = a.size();
  if (size != b.size()) return false;
  if (size > 16) return std::memcmp(a.data(), b.data(), size) == 0;
  const char* x = a.data();
  const char* y = b.data();
  if (size >= 8) {
    uint64_t u, v, s, t;
    std::memcpy(&u, x, 8);
    std::memcpy(&v, y, 8);
    std::memcpy(&s, x + size - 8, 8);
    std::memcpy(&t, y + size - 8, 8);
    return u == v && s == t;
  }
  for (size_t i = 0; i < size; ++i) {
    if (x[i] != y[i]) return false;
  }
  return true;
}

}  // namespace

// One thread's ring of up to capacity records at positions 0, 1, 2, ...
// (position p in slot p % capacity). Only the owning thread appends (or,
// for the late shard, whoever holds late_mutex_); anyone reads.
struct ShardedRecordStore::Shard {
  Shard(uint64_t id, size_t capacity, size_t chunk_slots)
      : id(id),
        capacity(capacity),
        chunk_slots(chunk_slots),
        chunk_count((capacity + chunk_slots - 1) / chunk_slots),
        chunks(new std::atomic<RecordSlot*>[chunk_count]),
        heavy_fence_uses_membarrier(internal::HeavyFenceUsesMembarrier()) {
    for (size_t i = 0; i < chunk_count; ++i) {
      chunks[i].store(nullptr, std::memory_order_relaxed);
    }
  }
  ~Shard() { FreeChunks(); }

  void FreeChunks() {
    for (size_t i = 0; i < chunk_count; ++i) {
      delete[] chunks[i].exchange(nullptr, std::memory_order_acq_rel);
    }
  }

  // For readers: the slot of a position below `published`.
  const RecordSlot* SlotOf(uint64_t position) const {
    const uint64_t index = position % capacity;
    const RecordSlot* chunk =
        chunks[index / chunk_slots].load(std::memory_order_acquire);
    return chunk + index % chunk_slots;
  }

  // For the writer: the slot of the next position (positions are taken in
  // order, so the slots are walked chunk by chunk).
  RecordSlot& NextSlot() {
    if (__builtin_expect(write_next == write_end, 0)) EnterNextChunk();
    // A large ring's slots are cold when their turn comes: ask for the
    // lines of a slot a few appends ahead now, so that its write misses
    // overlap this append's work instead of stalling a later one.
    if (write_end - write_next > kPrefetchAhead) {
      const char* ahead =
          reinterpret_cast<const char*>(write_next + kPrefetchAhead);
      for (size_t offset = 0; offset < kPrefetchBytes; offset += 64) {
        __builtin_prefetch(ahead + offset, /*rw=*/1, /*locality=*/3);
      }
    }
    return *write_next++;
  }
  static constexpr ptrdiff_t kPrefetchAhead = 4;
  static constexpr size_t kPrefetchBytes = 128;

  // Moves the writer to chunk write_chunk (allocating it on first use), and
  // write_chunk on to the one after.
  __attribute__((noinline)) void EnterNextChunk() {
    RecordSlot* chunk = chunks[write_chunk].load(std::memory_order_relaxed);
    if (chunk == nullptr) {
      chunk = new RecordSlot[chunk_slots];
      chunks[write_chunk].store(chunk, std::memory_order_release);
    }
    // The last chunk may be partly used: the ring ends at capacity.
    write_next = chunk;
    write_end =
        chunk + std::min(chunk_slots, capacity - write_chunk * chunk_slots);
    if (++write_chunk == chunk_count) write_chunk = 0;
  }

  // The writer's interned copy of `name`: one comparison with the last name
  // it used in `cache` (a writer's sender and type rarely change).
  const std::string* Intern(const internal::NameTable& names,
                            const std::string& name,
                            const std::string** cache) {
    if (name.empty()) return &internal::EmptyName();
    if (*cache != nullptr && SameName(**cache, name)) return *cache;
    *cache = names.Intern(name);
    return *cache;
  }

  // The interned sender and type of a LineWriter's line: looked up by
  // name only when the line's writer is not the last one seen (a writer's
  // names never change, and its id is never reused).
  Names NamesOf(const internal::NameTable& names, const LineView& line) {
    if (__builtin_expect(line.writer_id() != names_writer_id, 0)) {
      writer_names = Names{Intern(names, line.sender(), &last_sender),
                           Intern(names, line.type(), &last_type)};
      names_writer_id = line.writer_id();
    }
    return writer_names;
  }

  // The key of the record at `position`, if it is still held.
  bool KeyAt(uint64_t position, uint64_t* key) const {
    return SlotOf(position)->LoadKey(position, key) == LoadResult::kCopied;
  }

  // The oldest position held, given `end` = published.
  uint64_t First(uint64_t end) const {
    const uint64_t first = end > capacity ? end - capacity : 0;
    return std::max(first, cleared_before.load(std::memory_order_acquire));
  }

  const uint64_t id;
  const size_t capacity;
  const size_t chunk_slots;
  const size_t chunk_count;
  const std::unique_ptr<std::atomic<RecordSlot*>[]> chunks;
  // HeavyFenceUsesMembarrier(), asked once (it is not inline).
  const bool heavy_fence_uses_membarrier;
  // Set (release) when the owning thread exited.
  std::atomic<bool> exited{false};
  // Set when the store is destroyed; the owning thread then drops it.
  std::atomic<bool> store_gone{false};

  // The writer's own line: the number of records appended (release) and
  // the writer's private state.
  alignas(64) std::atomic<uint64_t> published{0};
  uint64_t last_key = 0;
  const std::string* last_sender = nullptr;
  const std::string* last_type = nullptr;
  uint64_t names_writer_id = 0;  // whose names writer_names are (0: none)
  Names writer_names;
  size_t write_chunk = 0;  // the chunk NextSlot enters next
  RecordSlot* write_next = nullptr;  // the next slot in the current chunk
  RecordSlot* write_end = nullptr;   // the current chunk's end

  // Written by Clear(): positions below are forgotten.
  alignas(64) std::atomic<uint64_t> cleared_before{0};
};

// A shard as one read sees it: positions [first, end) are held, keyed below
// the read's horizon.
struct ShardedRecordStore::ShardRange {
  std::shared_ptr<Shard> shard;
  uint64_t first;
  uint64_t end;
};

namespace {

// The calling thread's shards, one per store it appended to. Its destructor
// (at thread exit) marks them exited; the stores free them later.
struct ThreadShards {
  struct Entry {
    uint64_t store_id;
    std::shared_ptr<void> shard;  // ShardedRecordStore::Shard
    std::atomic<bool>* exited;
    std::atomic<bool>* store_gone;
  };
  ~ThreadShards();
  std::vector<Entry> entries;
};

// A one-entry cache in front of ThreadShards: trivially destructible, so it
// is usable (and reset) until the very end of the thread.
struct ShardCache {
  uint64_t store_id = 0;
  void* shard = nullptr;
};
thread_local ShardCache shard_cache;
thread_local bool thread_shards_gone = false;
thread_local ThreadShards thread_shards;

ThreadShards::~ThreadShards() {
  thread_shards_gone = true;
  shard_cache = ShardCache{};
  for (Entry& entry : entries) {
    entry.exited->store(true, std::memory_order_release);
  }
}

}  // namespace

bool ShardedRecordStore::Cursor::Covers(const Cursor& target) const {
  for (const auto& [id, next] : target.next_) {
    auto it = std::lower_bound(next_.begin(), next_.end(),
                               std::make_pair(id, uint64_t{0}));
    if (it != next_.end() && it->first == id) {
      if (it->second < next) return false;
    } else if (id > last_shard_id_) {
      return false;  // a shard this cursor has not been told of yet
    }
    // else: the shard was gone when this cursor was made.
  }
  return true;
}

uint64_t ShardedRecordStore::Cursor::Behind(const Cursor& target) const {
  uint64_t behind = 0;
  for (const auto& [id, next] : target.next_) {
    const uint64_t mine = Next(id);
    if (mine < next) behind += next - mine;
  }
  return behind;
}

uint64_t ShardedRecordStore::Cursor::Next(uint64_t shard_id) const {
  auto it = std::lower_bound(next_.begin(), next_.end(),
                             std::make_pair(shard_id, uint64_t{0}));
  return it != next_.end() && it->first == shard_id ? it->second : 0;
}

absl::StatusOr<std::unique_ptr<ShardedRecordStore>> ShardedRecordStore::Create(
    size_t capacity) {
  if (capacity < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sharded record store: capacity (maxlen) must be at least 1, got ",
        capacity));
  }
  return std::unique_ptr<ShardedRecordStore>(new ShardedRecordStore(capacity));
}

ShardedRecordStore::ShardedRecordStore(size_t capacity)
    : id_(next_store_id.fetch_add(1, std::memory_order_relaxed)),
      capacity_(capacity),
      chunk_slots_(std::min(capacity, kChunkSlots)) {}

ShardedRecordStore::~ShardedRecordStore() {
  if (shard_cache.store_id == id_) shard_cache = ShardCache{};
  std::lock_guard<std::mutex> guard(shards_mutex_);
  for (const std::shared_ptr<Shard>& shard : shards_) {
    // Threads still alive keep the (small) Shard until they notice; its
    // records go now.
    shard->FreeChunks();
    shard->store_gone.store(true, std::memory_order_release);
  }
}

inline ShardedRecordStore::Shard* ShardedRecordStore::ThisThreadShard() {
  if (__builtin_expect(shard_cache.store_id == id_, 1)) {
    return static_cast<Shard*>(shard_cache.shard);
  }
  return FindThisThreadShard();
}

__attribute__((noinline)) ShardedRecordStore::Shard*
ShardedRecordStore::FindThisThreadShard() {
  if (thread_shards_gone) return nullptr;
  std::vector<ThreadShards::Entry>& entries = thread_shards.entries;
  // Forget shards of destroyed stores while looking.
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const ThreadShards::Entry& entry) {
                                 return entry.store_gone->load(
                                     std::memory_order_acquire);
                               }),
                entries.end());
  Shard* shard = nullptr;
  for (const ThreadShards::Entry& entry : entries) {
    if (entry.store_id == id_) shard = static_cast<Shard*>(entry.shard.get());
  }
  if (shard == nullptr) shard = RegisterShard();
  shard_cache = ShardCache{id_, shard};
  return shard;
}

ShardedRecordStore::Shard* ShardedRecordStore::RegisterShard() {
  std::lock_guard<std::mutex> guard(shards_mutex_);
  ReleaseExitedShardsLocked(/*force=*/false);
  auto shard =
      std::make_shared<Shard>(++last_shard_id_, capacity_, chunk_slots_);
  shards_.push_back(shard);
  thread_shards.entries.push_back(ThreadShards::Entry{
      id_, shard, &shard->exited, &shard->store_gone});
  return shard.get();
}

template <typename Intern, typename StoreFields>
void ShardedRecordStore::AppendWith(uint64_t key, Intern intern,
                                    StoreFields store) {
  Shard* shard = ThisThreadShard();
  if (__builtin_expect(shard != nullptr, 1)) {
    AppendTo(*shard, key, intern, store);
    return;
  }
  // This thread's thread-local storage is being destroyed.
  std::lock_guard<std::mutex> late_guard(late_mutex_);
  if (late_shard_ == nullptr) {
    std::lock_guard<std::mutex> guard(shards_mutex_);
    auto late =
        std::make_shared<Shard>(++last_shard_id_, capacity_, chunk_slots_);
    shards_.push_back(late);
    late_shard_ = late.get();  // never exits: kept until the store goes
  }
  AppendTo(*late_shard_, key, intern, store);
}

template <typename Intern, typename StoreFields>
inline void ShardedRecordStore::AppendTo(Shard& shard, uint64_t key,
                                         Intern intern, StoreFields store) {
  const Names names = intern(shard);
  if (key == 0) key = internal::OrderKeyNow();
  // Keys of one shard strictly increase (the clock may repeat a value; on
  // the late shard, appends of several threads meet).
  if (key <= shard.last_key) key = shard.last_key + 1;
  shard.last_key = key;
  const uint64_t position = shard.published.load(std::memory_order_relaxed);
  RecordSlot& slot = shard.NextSlot();
  slot.BeginOwned(position);
  slot.key.store(key, std::memory_order_relaxed);
  store(slot, position, names.sender, names.type);
  shard.published.store(position + 1, std::memory_order_release);
  // Orders the store above before the load of wake_wanted_ in
  // NotifyWaiters, with WaitForAppend's HeavyFence (asymmetric_fence.h).
  internal::LightFence(shard.heavy_fence_uses_membarrier);
  NotifyWaiters();
}

void ShardedRecordStore::Append(const Record& record) {
  AppendWith(
      /*key=*/0,
      [&](Shard& shard) {
        return Names{shard.Intern(names_, record.sender, &shard.last_sender),
                     shard.Intern(names_, record.type, &shard.last_type)};
      },
      [&record](RecordSlot& slot, uint64_t position, const std::string* sender,
                const std::string* type) {
        slot.Store(position, record, sender, type);
      });
}

// Flattened: the whole append inlined (about 50 instructions fewer per line
// than the calls it would make).
__attribute__((flatten)) void ShardedRecordStore::AppendLine(
    const LineView& line) {
  AppendWith(
      line.order_key(),
      [&](Shard& shard) { return shard.NamesOf(names_, line); },
      [&line](RecordSlot& slot, uint64_t position, const std::string* sender,
              const std::string* type) {
        slot.StoreLine(position, line.sequence(), line.unix_nanos(),
                       line.text(), line.continued(), sender, type);
      });
}

void ShardedRecordStore::NotifyWaitersSlow() {
  if (wake_wanted_.exchange(false, std::memory_order_seq_cst)) {
    std::lock_guard<std::mutex> guard(wait_mutex_);
    wait_cv_.notify_all();
  }
}
std::vector<ShardedRecordStore::ShardRange> ShardedRecordStore::Snapshot(
    uint64_t horizon) const {
  std::vector<ShardRange> ranges;
  {
    std::lock_guard<std::mutex> guard(shards_mutex_);
    ranges.reserve(shards_.size());
    for (const std::shared_ptr<Shard>& shard : shards_) {
      ranges.push_back(ShardRange{shard, 0, 0});
    }
  }
  for (ShardRange& range : ranges) {
    const Shard& shard = *range.shard;
    uint64_t end = shard.published.load(std::memory_order_acquire);
    const uint64_t first = shard.First(end);
    // Leave out records keyed at or after the horizon: appends that began
    // after this read (their earlier causes may not be visible yet).
    uint64_t key;
    while (end > first && (!shard.KeyAt(end - 1, &key) || key >= horizon)) {
      --end;
    }
    range.first = std::min(first, end);
    range.end = end;
  }
  return ranges;
}

std::vector<Record> ShardedRecordStore::Read(size_t n) const {
  std::vector<ShardRange> ranges = Snapshot(internal::OrderHorizonNow());
  // Walk back from the newest record, across shards by key, to find where
  // the last n begin in each shard.
  std::vector<uint64_t> begin(ranges.size());
  using Tail = std::pair<uint64_t, size_t>;  // (key, range index)
  std::priority_queue<Tail> newest;
  for (size_t i = 0; i < ranges.size(); ++i) {
    begin[i] = ranges[i].end;
    uint64_t key;
    if (ranges[i].end > ranges[i].first &&
        ranges[i].shard->KeyAt(ranges[i].end - 1, &key)) {
      newest.push({key, i});
    }
  }
  for (size_t taken = 0; taken < n && !newest.empty(); ++taken) {
    const size_t i = newest.top().second;
    newest.pop();
    --begin[i];
    uint64_t key;
    if (begin[i] > ranges[i].first &&
        ranges[i].shard->KeyAt(begin[i] - 1, &key)) {
      newest.push({key, i});
    }
  }
  // Copy them (records evicted meanwhile are left out), then order by key.
  struct Keyed {
    uint64_t key;
    uint64_t shard_id;
    Record record;
  };
  std::vector<Keyed> keyed;
  for (size_t i = 0; i < ranges.size(); ++i) {
    for (uint64_t position = begin[i]; position < ranges[i].end; ++position) {
      keyed.emplace_back();
      Keyed& k = keyed.back();
      k.shard_id = ranges[i].shard->id;
      if (ranges[i].shard->SlotOf(position)->Load(position, &k.record,
                                                  &k.key) !=
          LoadResult::kCopied) {
        keyed.pop_back();
      }
    }
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const Keyed& a, const Keyed& b) {
                     return std::tie(a.key, a.shard_id) <
                            std::tie(b.key, b.shard_id);
                   });
  std::vector<Record> records;
  records.reserve(keyed.size());
  for (Keyed& k : keyed) records.push_back(std::move(k.record));
  return records;
}

size_t ShardedRecordStore::Size() const {
  uint64_t held = 0;
  std::lock_guard<std::mutex> guard(shards_mutex_);
  for (const std::shared_ptr<Shard>& shard : shards_) {
    const uint64_t end = shard->published.load(std::memory_order_acquire);
    held += end - std::min(end, shard->First(end));
  }
  return static_cast<size_t>(std::min<uint64_t>(held, capacity_));
}

void ShardedRecordStore::Clear() {
  std::lock_guard<std::mutex> guard(shards_mutex_);
  for (const std::shared_ptr<Shard>& shard : shards_) {
    const uint64_t end = shard->published.load(std::memory_order_acquire);
    uint64_t cleared = shard->cleared_before.load(std::memory_order_relaxed);
    while (cleared < end && !shard->cleared_before.compare_exchange_weak(
                                cleared, end, std::memory_order_acq_rel)) {
    }
  }
  ReleaseExitedShardsLocked(/*force=*/true);
}

void ShardedRecordStore::ReleaseExitedShardsLocked(bool force) {
  size_t exited = 0;
  for (const std::shared_ptr<Shard>& shard : shards_) {
    if (shard->exited.load(std::memory_order_acquire)) ++exited;
  }
  if (exited == 0 ||
      (!force && exited < std::max(kMinExitedForPass, 2 * exited_kept_))) {
    return;
  }
  // The key of the N-th newest record: every record keyed below it has left
  // the last N. Found walking back across shards by key, as in Read.
  uint64_t threshold = 0;
  {
    using Tail = std::pair<uint64_t, size_t>;  // (key, shard index)
    std::priority_queue<Tail> newest;
    std::vector<uint64_t> next(shards_.size());
    std::vector<uint64_t> first(shards_.size());
    for (size_t i = 0; i < shards_.size(); ++i) {
      next[i] = shards_[i]->published.load(std::memory_order_acquire);
      first[i] = shards_[i]->First(next[i]);
      uint64_t key;
      if (next[i] > first[i] && shards_[i]->KeyAt(next[i] - 1, &key)) {
        newest.push({key, i});
      }
    }
    for (size_t taken = 0; taken < capacity_ && !newest.empty(); ++taken) {
      const size_t i = newest.top().second;
      if (taken + 1 == capacity_) threshold = newest.top().first;
      newest.pop();
      --next[i];
      uint64_t key;
      if (next[i] > first[i] && shards_[i]->KeyAt(next[i] - 1, &key)) {
        newest.push({key, i});
      }
    }
  }
  exited_kept_ = 0;
  auto released = [&](const std::shared_ptr<Shard>& shard) {
    if (!shard->exited.load(std::memory_order_acquire)) return false;
    const uint64_t end = shard->published.load(std::memory_order_acquire);
    uint64_t last_key = 0;
    const bool empty = shard->First(end) >= end;
    const bool evicted = !empty && threshold != 0 &&
                         shard->KeyAt(end - 1, &last_key) &&
                         last_key < threshold;
    if (!empty && !evicted) {
      ++exited_kept_;
      return false;
    }
    tombstones_.emplace_back(shard->id, end);
    if (tombstones_.size() > kMaxTombstones) tombstones_.pop_front();
    return true;
  };
  shards_.erase(std::remove_if(shards_.begin(), shards_.end(), released),
                shards_.end());
}

ShardedRecordStore::Cursor ShardedRecordStore::End() const {
  Cursor cursor;
  std::lock_guard<std::mutex> guard(shards_mutex_);
  cursor.last_shard_id_ = last_shard_id_;
  for (const std::shared_ptr<Shard>& shard : shards_) {
    cursor.next_.emplace_back(
        shard->id, shard->published.load(std::memory_order_acquire));
  }
  return cursor;
}

std::vector<Record> ShardedRecordStore::ReadFrom(const Cursor& from,
                                                 size_t max_records,
                                                 Cursor* next,
                                                 uint64_t* skipped) const {
  const uint64_t horizon = internal::OrderHorizonNow();
  uint64_t last_shard_id;
  uint64_t lost = 0;
  {
    std::lock_guard<std::mutex> guard(shards_mutex_);
    last_shard_id = last_shard_id_;
    // Records of freed shards that `from` had not passed: those it knows,
    // and those created after it was made.
    for (const auto& [id, end] : tombstones_) {
      auto it = std::lower_bound(from.next_.begin(), from.next_.end(),
                                 std::make_pair(id, uint64_t{0}));
      if (it != from.next_.end() && it->first == id) {
        if (it->second < end) lost += end - it->second;
      } else if (id > from.last_shard_id_) {
        lost += end;
      }
    }
  }
  std::vector<ShardRange> ranges = Snapshot(horizon);
  std::vector<uint64_t> position(ranges.size());
  using Head = std::pair<uint64_t, size_t>;  // (key, range index)
  std::priority_queue<Head, std::vector<Head>, std::greater<Head>> oldest;
  auto push_head = [&](size_t i) {
    while (position[i] < ranges[i].end) {
      uint64_t key;
      if (ranges[i].shard->KeyAt(position[i], &key)) {
        oldest.push({key, i});
        return;
      }
      ++lost;  // evicted since the snapshot
      ++position[i];
    }
  };
  for (size_t i = 0; i < ranges.size(); ++i) {
    uint64_t passed = from.Next(ranges[i].shard->id);
    if (passed < ranges[i].first) {
      lost += ranges[i].first - passed;
      passed = ranges[i].first;
    }
    position[i] = passed;
    push_head(i);
  }
  std::vector<Record> records;
  while (records.size() < max_records && !oldest.empty()) {
    const size_t i = oldest.top().second;
    oldest.pop();
    const uint64_t p = position[i]++;
    records.emplace_back();
    if (ranges[i].shard->SlotOf(p)->Load(p, &records.back()) !=
        LoadResult::kCopied) {
      records.pop_back();
      ++lost;
    }
    push_head(i);
  }
  Cursor result;
  result.last_shard_id_ = last_shard_id;
  result.next_.reserve(ranges.size());
  for (size_t i = 0; i < ranges.size(); ++i) {
    result.next_.emplace_back(ranges[i].shard->id, position[i]);
  }
  *next = std::move(result);
  if (skipped != nullptr) *skipped = lost;
  return records;
}

bool ShardedRecordStore::HasRecordAhead(const Cursor& from) const {
  std::lock_guard<std::mutex> guard(shards_mutex_);
  for (const std::shared_ptr<Shard>& shard : shards_) {
    if (shard->published.load(std::memory_order_acquire) >
        from.Next(shard->id)) {
      return true;
    }
  }
  return false;
}

bool ShardedRecordStore::WaitForAppend(const Cursor& from,
                                       absl::Time deadline) const {
  if (HasRecordAhead(from)) return true;
  std::unique_lock<std::mutex> lock(wait_mutex_);
  return WaitUntilReady(wait_cv_, lock, deadline, [&] {
    // Set before looking: an append that the look misses sees the flag.
    wake_wanted_.store(true, std::memory_order_relaxed);
    internal::HeavyFence();
    return HasRecordAhead(from);
  });
}

size_t ShardedRecordStore::shard_count() const {
  std::lock_guard<std::mutex> guard(shards_mutex_);
  return shards_.size();
}

}  // namespace syncstream
