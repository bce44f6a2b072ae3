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
// The bytes come from another process: ParsedBatch checks the whole batch
// (magic, version, header size, every length against the bytes left, kinds,
// the `continued` flag, no trailing bytes) before a single record is
// delivered, reading each of those fields once. See
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
#include "absl/strings/string_view.h"
#include "syncstream/core/record.h"

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
  void AddPlain(uint8_t kind, absl::string_view sender, absl::string_view type,
                uint64_t sequence, int64_t unix_nanos, absl::string_view text,
                bool continued);
  void AddWithTrace(const Record& record);

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  uint32_t count_ = 0;
};

// A batch parsed in place, for bytes that another process may still be
// writing (the queue's shared memory): Parse() reads every header field,
// length, kind and flag exactly once into private memory and validates the
// whole batch (magic, version, header size, every length against the bytes
// left, kinds, the `continued` flag, no trailing bytes); ForEach() then reads
// only the sender, type, text and trace bytes, at the offsets validated. So
// a writer scribbling on the bytes meanwhile can change what a record says,
// never where the reader reads. No copy of the batch is needed.
class ParsedBatch {
 public:
  // InvalidArgument naming the first problem; then nothing is delivered.
  absl::Status Parse(absl::string_view bytes);

  // Valid after a successful Parse().
  const BatchHeader& header() const { return header_; }

  // Calls `on_record(const Record&)` for each record, in order, decoding it
  // into `*scratch` (reused: its strings keep their storage, and sender and
  // type are assigned only when they change). The parsed bytes must still be
  // mapped.
  template <typename OnRecord>
  void ForEach(Record* scratch, OnRecord&& on_record) const;

  // The number of records, and record `index` (< size()) decoded into
  // `*into` as ForEach does, for delivering records in groups.
  size_t size() const { return count_; }
  void Decode(size_t index, Record* into) const;

 private:
  // One record: its fixed fields, and where its variable parts are.
  struct Entry {
    uint64_t sequence;
    int64_t unix_nanos;
    uint32_t sender_offset;  // sender, then type, then text: back to back
    uint32_t text_length;
    uint16_t sender_length;
    uint16_t type_length;
    uint16_t trace_count;
    uint8_t kind;
    uint8_t continued;
    uint32_t first_trace;  // index in traces_
  };
  struct TraceEntry {
    uint32_t offset;
    uint32_t length;
  };

  // Forgets the records parsed so far; returns `status`.
  absl::Status Fail(absl::Status status);

  const char* data_ = nullptr;
  BatchHeader header_;
  size_t count_ = 0;             // records parsed
  std::vector<Entry> entries_;   // the first count_ are valid; never shrinks
  std::vector<TraceEntry> traces_;
};

// Parses `bytes`; on success fills `*header` and calls `on_record` once per
// record, in order (the Record is reused between calls). InvalidArgument
// naming the first problem otherwise, and then no record is delivered.
absl::Status DecodeRecordBatch(
    absl::string_view bytes, BatchHeader* header,
    const std::function<void(const Record&)>& on_record);

// ---------------------------------------------------------------------------
// Implementation details.

namespace record_batch_internal {

// Assigns `size` bytes at `data` to `*to` unless it holds them already
// (names are a few bytes: compared inline, not through memcmp).
inline void AssignIfChanged(std::string* to, const char* data, size_t size) {
  if (to->size() == size) {
    const char* have = to->data();
    size_t i = 0;
    while (i < size && have[i] == data[i]) ++i;
    if (i == size) return;
  }
  to->assign(data, size);
}

}  // namespace record_batch_internal

inline void ParsedBatch::Decode(size_t index, Record* into) const {
  using record_batch_internal::AssignIfChanged;
  const Entry& entry = entries_[index];
  Record& record = *into;
  record.kind = static_cast<RecordKind>(entry.kind);
  record.continued = entry.continued != 0;
  record.sequence = entry.sequence;
  record.timestamp = absl::FromUnixNanos(entry.unix_nanos);
  const char* p = data_ + entry.sender_offset;
  AssignIfChanged(&record.sender, p, entry.sender_length);
  p += entry.sender_length;
  AssignIfChanged(&record.type, p, entry.type_length);
  p += entry.type_length;
  record.text.assign(p, entry.text_length);
  if (entry.trace_count == 0) {
    record.trace.clear();
    return;
  }
  record.trace.resize(entry.trace_count);
  for (uint16_t t = 0; t < entry.trace_count; ++t) {
    const TraceEntry& frame = traces_[entry.first_trace + t];
    record.trace[t].assign(data_ + frame.offset, frame.length);
  }
}

template <typename OnRecord>
void ParsedBatch::ForEach(Record* scratch, OnRecord&& on_record) const {
  for (size_t i = 0; i < count_; ++i) {
    Decode(i, scratch);
    on_record(static_cast<const Record&>(*scratch));
  }
}

}  // namespace syncstream::proc_internal

#endif  // SYNCSTREAM_PROC_INTERNAL_RECORD_BATCH_H_
