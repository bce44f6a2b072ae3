// The encoding of records inside one queue message from a LineProcMirror to
// its LineProcBuffer: a fixed binary header, then the records back to back.
// Protobuf would cost more than the copy itself at millions of lines/s, so
// this is a compact little-endian layout (the machines sharing the memory are
// one host):
//
//   batch header (40 bytes)
//     u32 magic "SSPB"   u16 version (1)   u16 header size (40)
//     u32 generation     u32 mirror id     u32 record count   u32 flags
//     i32 pid            u32 reserved      u64 process start time
//   record (28 bytes + payload), repeated `record count` times
//     u8 kind  u8 flags (bit 0: continued)  u16 sender length  u16 type length
//     u16 trace count  u32 text length  u64 sequence  i64 timestamp (Unix ns)
//     sender bytes, type bytes, text bytes,
//     then per trace entry: u32 length, bytes
//
// The bytes come from another process: ValidatedBatch copies them out of
// shared memory and checks the whole copy (magic, version, header size,
// every length against the bytes left, kinds, the `continued` flag, no
// trailing bytes) before a single record is delivered. See
// testing/fuzz/proc_batch_fuzzer.cc.
#ifndef SYNCSTREAM_PROC_INTERNAL_RECORD_BATCH_H_
#define SYNCSTREAM_PROC_INTERNAL_RECORD_BATCH_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/core/internal/copy_short.h"
#include "syncstream/core/record.h"
#include "syncstream/core/record_block_store.h"

namespace syncstream::proc_internal {

inline constexpr uint32_t kBatchMagic = 0x42505353;  // "SSPB" little-endian
inline constexpr uint16_t kBatchVersion = 1;
inline constexpr size_t kBatchHeaderSize = 40;
inline constexpr size_t kRecordHeaderSize = 28;

// Batch flags.
// The mirror is closed: no further records will come from it.
inline constexpr uint32_t kBatchMirrorClosed = 1u << 0;
// The mirror announces the process it runs in (sent when a process starts
// using a mirror, possibly with no records).
inline constexpr uint32_t kBatchHello = 1u << 1;

struct BatchHeader {
  uint32_t generation = 0;  // the buffer's reset count when the mirror was made
  uint32_t mirror_id = 0;
  uint32_t record_count = 0;
  uint32_t flags = 0;
  pid_t pid = 0;            // the writing process
  uint64_t start_time = 0;  // its start time (see core/process_identity.h)
};

// Builds one batch. Reuses its storage between batches.
class RecordBatchEncoder {
 public:
  // Starts a new batch (drops any previous content).
  void Reset(const BatchHeader& header);
  // The bytes Add(record) appends.
  static size_t EncodedSize(const Record& record) {
    if (IsPlain(record)) {
      return kRecordHeaderSize + record.sender.size() + record.type.size() +
             record.text.size();
    }
    return EncodedSizeSlow(record);
  }
  // Appends a record. Sender and type are cut at 65535 bytes and the trace at
  // 65535 entries (names and traces are never that long in practice).
  void Add(const Record& record);
  // Appends a line record given by its fields, as Add() would the Record
  // (sender and type at most 65535 bytes, see PlainLineSize).
  void AddLine(absl::string_view sender, absl::string_view type,
               uint64_t sequence, int64_t unix_nanos, absl::string_view text,
               bool continued) {
    AddPlain(static_cast<uint8_t>(RecordKind::kLine), sender, type, sequence,
             unix_nanos, text, continued);
  }
  // The bytes AddLine appends; 0 if the fields are too long for it (then
  // Add() a Record instead).
  static size_t PlainLineSize(size_t sender, size_t type, size_t text) {
    if (sender > 0xffff || type > 0xffff || text > UINT32_MAX) return 0;
    return kRecordHeaderSize + sender + type + text;
  }
  // Sets flags on the batch being built.
  void AddFlags(uint32_t flags);

  uint32_t record_count() const { return count_; }
  uint32_t flags() const;
  size_t size() const { return size_; }
  bool empty() const { return count_ == 0; }
  // The encoded batch (header with the final count and flags); valid until
  // the next call that changes the encoder.
  absl::string_view bytes();

 private:
  // Room for `more` bytes at the end (grows by doubling; never shrinks, and
  // does not zero what it adds: every byte is written before it is used).
  char* Extend(size_t more) {
    if (capacity_ - size_ < more) Grow(more);
    char* end = data_.get() + size_;
    size_ += more;
    return end;
  }
  void Grow(size_t more);
  // A record with no trace and no field beyond its length limit: every
  // line. Add() and EncodedSize() take a short path for it.
  static bool IsPlain(const Record& record) {
    return record.trace.empty() && record.sender.size() <= 0xffff &&
           record.type.size() <= 0xffff && record.text.size() <= UINT32_MAX;
  }
  static size_t EncodedSizeSlow(const Record& record);
  // The path of every line (inline: one extension, a header built in
  // registers, and three copies).
  void AddPlain(uint8_t kind, absl::string_view sender, absl::string_view type,
                uint64_t sequence, int64_t unix_nanos, absl::string_view text,
                bool continued) {
    char* p = Extend(kRecordHeaderSize + sender.size() + type.size() +
                     text.size());
    const uint8_t flags = continued ? 1 : 0;
    const uint16_t sender16 = static_cast<uint16_t>(sender.size());
    const uint16_t type16 = static_cast<uint16_t>(type.size());
    const uint16_t traces16 = 0;
    const uint32_t text32 = static_cast<uint32_t>(text.size());
    char header[kRecordHeaderSize];
    std::memcpy(header, &kind, 1);
    std::memcpy(header + 1, &flags, 1);
    std::memcpy(header + 2, &sender16, 2);
    std::memcpy(header + 4, &type16, 2);
    std::memcpy(header + 6, &traces16, 2);
    std::memcpy(header + 8, &text32, 4);
    std::memcpy(header + 12, &sequence, 8);
    std::memcpy(header + 20, &unix_nanos, 8);
    std::memcpy(p, header, kRecordHeaderSize);
    p += kRecordHeaderSize;
    internal::CopyShort(p, sender.data(), sender.size());
    p += sender.size();
    internal::CopyShort(p, type.data(), type.size());
    p += type.size();
    internal::CopyShort(p, text.data(), text.size());
    ++count_;
  }
  void AddWithTrace(const Record& record);

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  uint32_t count_ = 0;
};

// A batch copied out of the queue's shared memory (which its writer may
// still scribble on) into memory of its own, and validated whole there:
// magic, version, header size, every length against the bytes left, kinds,
// the `continued` flag, no trailing bytes. The copy never changes after it
// was checked, so its records are decoded straight from it, one at a time,
// when they are read: a RecordBlock that a RecordBlockStore keeps as it is.
class ValidatedBatch final : public RecordBlock {
 public:
  // InvalidArgument naming the first problem.
  static absl::StatusOr<std::shared_ptr<const ValidatedBatch>> Copy(
      absl::string_view bytes);

  const BatchHeader& header() const { return header_; }
  // The number of records (header().record_count).
  size_t size() const override { return header_.record_count; }
  // Record `index` (< size()) into `*into`; its sender and type strings are
  // assigned only when they change, and its other strings keep their
  // storage.
  void Decode(size_t index, Record* into) const override;

 private:
  ValidatedBatch() = default;
  // Copies `shared` (size_ bytes) into data_ and checks the copy (only the
  // copy), filling header_ and offsets_.
  absl::Status CopyAndValidate(const char* shared);

  BatchHeader header_;
  std::unique_ptr<char[]> data_;  // the batch's bytes
  size_t size_ = 0;
  std::unique_ptr<uint32_t[]> offsets_;  // where each record starts in data_
};

// Parses `bytes`; on success fills `*header` and calls `on_record` once per
// record, in order (the Record is reused between calls). InvalidArgument
// naming the first problem otherwise, and then no record is delivered.
absl::Status DecodeRecordBatch(
    absl::string_view bytes, BatchHeader* header,
    const std::function<void(const Record&)>& on_record);

}  // namespace syncstream::proc_internal

#endif  // SYNCSTREAM_PROC_INTERNAL_RECORD_BATCH_H_
