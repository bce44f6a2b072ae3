// RecordSlot: one record in the preallocated ring of a record store
// (RecordStore, ShardedRecordStore): the copy-in and copy-out code shared by
// both. Not a public API.
#ifndef SYNCSTREAM_CORE_INTERNAL_RECORD_SLOT_H_
#define SYNCSTREAM_CORE_INTERNAL_RECORD_SLOT_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/core/internal/name_table.h"
#include "syncstream/core/internal/spin_lock.h"
#include "syncstream/core/record.h"

namespace syncstream {
namespace internal {

// One record of a record store's ring. Writers never lock a slot for a record whose text fits inline
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
struct alignas(64) RecordSlot {
  static constexpr size_t kInlineWords = 17;
  static constexpr size_t kInlineText = kInlineWords * 8;  // 136 bytes
  static constexpr uint64_t kWriting = uint64_t{1} << 63;
  // Flags in `meta` beside the kind (low 8 bits).
  static constexpr uint32_t kContinued = 1u << 8;
  static constexpr uint32_t kLongText = 1u << 9;  // text in overflow_text
  static constexpr uint32_t kHasTrace = 1u << 10;

  enum class LoadResult { kCopied, kEvicted, kNotYet };

  // 1 + the position held (0: never written); with kWriting set while the
  // writer of that position is storing it.
  std::atomic<uint64_t> position_plus_one{0};
  std::atomic<uint32_t> meta{0};
  std::atomic<uint32_t> text_size{0};  // of the inline text
  std::atomic<uint64_t> sequence{0};
  std::atomic<int64_t> unix_nanos{0};
  std::atomic<const std::string*> sender{&EmptyName()};
  std::atomic<const std::string*> type{&EmptyName()};
  // The ordering key of a ShardedRecordStore (unused by RecordStore).
  std::atomic<uint64_t> key{0};
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

  // For a slot that only one thread ever writes (a ShardedRecordStore
  // shard): marks it as being rewritten with `position`, which is later
  // than the one it holds. Call Store() next.
  void BeginOwned(uint64_t position) {
    position_plus_one.store((position + 1) | kWriting,
                            std::memory_order_relaxed);
    // The field stores of Store() must not become visible before kWriting.
    std::atomic_thread_fence(std::memory_order_release);
  }

  // Called by the writer of `position` after Claim() returned true (or
  // BeginOwned()).
  void Store(uint64_t position, const Record& from,
             const std::string* interned_sender,
             const std::string* interned_type) {
    StoreFields(position, from.kind, from.sequence,
                absl::ToUnixNanos(from.timestamp), from.text, from.continued,
                from.trace.empty() ? nullptr : &from.trace, interned_sender,
                interned_type);
  }
  // The same for a line (RecordKind::kLine, no trace) given by its fields,
  // without a Record to copy from.
  void StoreLine(uint64_t position, uint64_t line_sequence,
                 int64_t line_unix_nanos, absl::string_view text,
                 bool continued, const std::string* interned_sender,
                 const std::string* interned_type) {
    StoreFields(position, RecordKind::kLine, line_sequence, line_unix_nanos,
                text, continued, nullptr, interned_sender, interned_type);
  }

  void StoreFields(uint64_t position, RecordKind kind, uint64_t record_sequence,
                   int64_t record_unix_nanos, absl::string_view text,
                   bool continued,
                   const std::vector<std::string>* record_trace,
                   const std::string* interned_sender,
                   const std::string* interned_type) {
    const bool long_text = text.size() > kInlineText;
    const bool has_trace = record_trace != nullptr;
    uint32_t flags = static_cast<uint32_t>(kind);
    if (continued) flags |= kContinued;
    if (long_text) flags |= kLongText;
    if (has_trace) flags |= kHasTrace;
    meta.store(flags, std::memory_order_relaxed);
    sequence.store(record_sequence, std::memory_order_relaxed);
    unix_nanos.store(record_unix_nanos, std::memory_order_relaxed);
    sender.store(interned_sender, std::memory_order_relaxed);
    type.store(interned_type, std::memory_order_relaxed);
    if (long_text || has_trace) {
      std::lock_guard<internal::SpinLock> guard(lock);
      if (long_text) overflow_text.assign(text.data(), text.size());
      if (has_trace) trace = *record_trace;
    }
    if (!long_text) {
      StoreInlineText(text);
    }
    position_plus_one.store(position + 1, std::memory_order_release);
  }

  // Stores up to kInlineText bytes into text_words, word by word, loading
  // each word straight from `text` (staging the text in a local array first
  // made every word load wait for a failed store-to-load forward). Bytes of
  // the last word beyond the text are zero.
  void StoreInlineText(absl::string_view text) {
    const char* data = text.data();
    const size_t size = text.size();
    const size_t full = size / 8;
    size_t i = 0;
    for (; i + 2 <= full; i += 2) {  // two words a round: half the loop cost
      uint64_t first, second;
      std::memcpy(&first, data + 8 * i, 8);
      std::memcpy(&second, data + 8 * i + 8, 8);
      text_words[i].store(first, std::memory_order_relaxed);
      text_words[i + 1].store(second, std::memory_order_relaxed);
    }
    if (i < full) {
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

  // The key stored with the record at `position`: kCopied, kEvicted when
  // the slot moved on, kNotYet when its writer has not finished.
  LoadResult LoadKey(uint64_t position, uint64_t* out) const {
    const uint64_t before = position_plus_one.load(std::memory_order_acquire);
    const uint64_t held = before & ~kWriting;
    if (held > position + 1) return LoadResult::kEvicted;
    if (held < position + 1 || (before & kWriting)) return LoadResult::kNotYet;
    *out = key.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (position_plus_one.load(std::memory_order_relaxed) != before) {
      return LoadResult::kEvicted;
    }
    return LoadResult::kCopied;
  }

  // Copies the record at `position` into `to`: kCopied, or kEvicted when the
  // slot moved on, or kNotYet when its writer has not finished.
  // With `key_out`, also copies the ordering key.
  LoadResult Load(uint64_t position, Record* to,
                  uint64_t* key_out = nullptr) const {
    const uint64_t before = position_plus_one.load(std::memory_order_acquire);
    const uint64_t held = before & ~kWriting;
    if (held > position + 1) return LoadResult::kEvicted;
    if (held < position + 1 || (before & kWriting)) return LoadResult::kNotYet;
    const uint32_t flags = meta.load(std::memory_order_relaxed);
    to->kind = static_cast<RecordKind>(flags & 0xff);
    to->continued = (flags & kContinued) != 0;
    to->sequence = sequence.load(std::memory_order_relaxed);
    if (key_out != nullptr) *key_out = key.load(std::memory_order_relaxed);
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

}  // namespace internal
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_INTERNAL_RECORD_SLOT_H_
