// The compact encoding of a mirror's records on the wire (MirrorBatch.records
// in syncstream/proto/host.proto) and in the collector's store log.
//
// One protobuf Record message per line cost more than everything else the
// mirror and the collector do for it (about 1500 instructions a line on both
// sides together), so the records of a batch travel as one `bytes` field in
// this layout instead (encoding version 1, announced in MirrorHello):
//
//   u8  version (1)
//   u32 record count, little-endian
//   per record:
//     u8 flags: bits 0-2 the kind (1 line, 2 end of stream, 3 error,
//               4 warning), bit 3 continued (lines only), bit 4 a sender
//               follows, bit 5 a type follows, bit 6 a trace follows;
//               bit 7 is zero
//     [varint length, sender bytes]   if bit 4, else the previous record's
//     [varint length, type bytes]     if bit 5, else the previous record's
//     varint sequence
//     varint zigzag(timestamp - previous record's timestamp), Unix ns
//     varint length, text bytes
//     [varint count, then per entry varint length, bytes]   if bit 6
//
// "Previous" starts as an empty sender and type and timestamp 0 at the start
// of each batch, so every batch decodes on its own (resent, logged, replayed).
// Varints are LEB128 of at most 10 bytes.
//
// The bytes are untrusted (a network peer, a disk): BatchReader::Open checks
// the whole batch (version, every length against the bytes left, kinds,
// flags, the record count, no trailing bytes) before a single record is
// decoded. See testing/fuzz/host_batch_fuzzer.cc.
#ifndef SYNCSTREAM_HOST_INTERNAL_BATCH_CODEC_H_
#define SYNCSTREAM_HOST_INTERNAL_BATCH_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "syncstream/core/record.h"

namespace syncstream::host::internal {

inline constexpr uint32_t kBatchEncodingVersion = 1;
inline constexpr size_t kBatchHeaderBytes = 5;

// Appends records to a batch held in a caller's string (for the mirror: the
// `records` field of the MirrorBatch it sends, so nothing is copied again).
class BatchEncoder {
 public:
  // Starts a new, empty batch in `*out` (cleared; its capacity is kept).
  // `out` must outlive the encoding.
  void Reset(std::string* out);
  void Add(const Record& record);
  uint32_t count() const { return count_; }
  size_t bytes() const { return out_ == nullptr ? 0 : out_->size(); }

 private:
  std::string* out_ = nullptr;
  uint32_t count_ = 0;
  std::string sender_;  // the previous record's
  std::string type_;
  uint64_t timestamp_ = 0;
};

// Reads a validated batch, record by record.
class BatchReader {
 public:
  // Validates the whole batch; InvalidArgument naming the first problem.
  // `bytes` must outlive the reader.
  static absl::StatusOr<BatchReader> Open(absl::string_view bytes);

  uint32_t size() const { return count_; }
  // Decodes the next record into `*record`, reusing its strings' storage.
  // False after the last one.
  bool Next(Record* record);

 private:
  explicit BatchReader(absl::string_view bytes, uint32_t count);

  absl::string_view rest_;
  uint32_t count_;
  uint32_t read_ = 0;
  absl::string_view sender_;
  absl::string_view type_;
  uint64_t timestamp_ = 0;
};

// Validates the whole batch in `bytes` and decodes its records into the
// first N elements of `*records`, N being the returned count. `*records` is
// grown as needed and never shrunk, so that a caller decoding batch after
// batch into the same vector reuses its records' strings (no allocation per
// record). One pass: checks and decodes together, the collector's hot path.
// On a problem (InvalidArgument, as Open) the elements may hold part of the
// batch: use none of them.
absl::StatusOr<size_t> DecodeBatch(absl::string_view bytes,
                                   std::vector<Record>* records);

}  // namespace syncstream::host::internal

#endif  // SYNCSTREAM_HOST_INTERNAL_BATCH_CODEC_H_
