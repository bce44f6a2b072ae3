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
// The bytes come from another process: ValidateRecordBatch checks the whole
// batch (magic, version, header size, every length against the bytes left,
// kinds, the `continued` flag, no trailing bytes) before a single record is
// delivered. See testing/fuzz/proc_batch_fuzzer.cc.
#ifndef SYNCSTREAM_PROC_INTERNAL_RECORD_BATCH_H_
#define SYNCSTREAM_PROC_INTERNAL_RECORD_BATCH_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

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
  static size_t EncodedSize(const Record& record);
  // Appends a record. Sender and type are cut at 65535 bytes and the trace at
  // 65535 entries (names and traces are never that long in practice).
  void Add(const Record& record);
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
  void AddWithTrace(const Record& record);

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  uint32_t count_ = 0;
};

// Validates `bytes` as a whole batch and fills `*header`; InvalidArgument
// naming the first problem otherwise.
absl::Status ValidateRecordBatch(absl::string_view bytes, BatchHeader* header);

// Calls `on_record(const Record&)` for each of the `header.record_count`
// records of `bytes`, in order, decoding them into `*scratch` (reused: its
// strings keep their storage, and sender and type are assigned only when they
// change). `bytes` must be exactly what ValidateRecordBatch accepted, and
// must not have changed since (a reader copies shared memory first).
template <typename OnRecord>
void ForEachValidatedRecord(absl::string_view bytes, const BatchHeader& header,
                            Record* scratch, OnRecord&& on_record);

// Both: validates `bytes`; on success fills `*header` and calls `on_record`
// once per record, in order (the Record is reused between calls).
// InvalidArgument naming the first problem otherwise, and then no record is
// delivered.
absl::Status DecodeRecordBatch(
    absl::string_view bytes, BatchHeader* header,
    const std::function<void(const Record&)>& on_record);

// ---------------------------------------------------------------------------
// Implementation details.

namespace record_batch_internal {

template <typename T>
T Load(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

// Assigns `size` bytes at `data` to `*to` unless it holds them already.
inline void AssignIfChanged(std::string* to, const char* data, size_t size) {
  if (to->size() == size && std::memcmp(to->data(), data, size) == 0) return;
  to->assign(data, size);
}

}  // namespace record_batch_internal

template <typename OnRecord>
void ForEachValidatedRecord(absl::string_view bytes, const BatchHeader& header,
                            Record* scratch, OnRecord&& on_record) {
  using record_batch_internal::AssignIfChanged;
  using record_batch_internal::Load;
  const char* p = bytes.data() + kBatchHeaderSize;
  Record& record = *scratch;
  for (uint32_t i = 0; i < header.record_count; ++i) {
    const uint8_t kind = Load<uint8_t>(p);
    const uint8_t flags = Load<uint8_t>(p + 1);
    const uint16_t sender = Load<uint16_t>(p + 2);
    const uint16_t type = Load<uint16_t>(p + 4);
    const uint16_t traces = Load<uint16_t>(p + 6);
    const uint32_t text = Load<uint32_t>(p + 8);
    record.kind = static_cast<RecordKind>(kind);
    record.continued = flags != 0;
    record.sequence = Load<uint64_t>(p + 12);
    record.timestamp = absl::FromUnixNanos(Load<int64_t>(p + 20));
    p += kRecordHeaderSize;
    AssignIfChanged(&record.sender, p, sender);
    p += sender;
    AssignIfChanged(&record.type, p, type);
    p += type;
    record.text.assign(p, text);
    p += text;
    if (traces == 0) {
      record.trace.clear();
    } else {
      record.trace.resize(traces);
      for (uint16_t t = 0; t < traces; ++t) {
        const uint32_t length = Load<uint32_t>(p);
        p += 4;
        record.trace[t].assign(p, length);
        p += length;
      }
    }
    on_record(static_cast<const Record&>(record));
  }
}

}  // namespace syncstream::proc_internal

#endif  // SYNCSTREAM_PROC_INTERNAL_RECORD_BATCH_H_
