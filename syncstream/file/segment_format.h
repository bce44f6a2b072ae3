// The on-disk format of a LineFileBuffer segment, and its validating decoder.
//
// A buffer directory holds immutable segment files `seg-<GENERATION>` (20
// decimal digits). A segment is written in full to a private staging file and
// then published under its final name with link(), which never replaces an
// existing name: that link is the commit, and its refusal (EEXIST) is the
// fencing check (see line_file_buffer.h).
//
// Segment file = header, then frames. All integers little-endian.
//
//   header (72 bytes)
//     0  magic          8 bytes "SSFSEG\x01\n"
//     8  version        u32 = 1
//     12 header_size    u32 = 72
//     16 generation     u64  equals the number in the file name
//     24 first_index    u64  buffer-wide index of the first record
//     32 clear_index    u64  records with index < clear_index are cleared
//     40 record_count   u32
//     44 flags          u32  bit 0: clear marker (record_count is 0)
//     48 payload_bytes  u64  bytes of frames after the header
//     56 writer_nonce   u64  random id of the committing instance
//     64 last_frame     u32  file offset of the last frame (0: none/unknown),
//                            so a lock holder checks the tail in O(1)
//     68 header_crc     u32  zlib crc32 of bytes [0, 68)
//
//   frame (12-byte frame header + payload), one per record
//     0  magic          u32 = 0x53465246 ("FRFS")
//     4  crc            u32  zlib crc32 of the length field and the payload
//     8  length         u32  payload bytes, at most kMaxFramePayload
//     12 payload        a serialized syncstream.proto.Record
//
// The frame layer (magic, CRC, length, payload; the resynchronising walk
// that tells a damaged middle from a torn tail) is shared: the network
// collector's durable log (syncstream/host/internal/store_log.h) is a header
// of its own followed by frames of this format holding HostLogEntry messages.
//
// Everything read from a segment is untrusted (another host wrote it, the
// disk may be damaged): DecodeSegment checks the header CRC and every frame's
// CRC, never returns a record whose check fails, resynchronizes after a
// damaged frame by searching for the next valid frame, and tells a damaged
// middle (valid frames follow) from a torn tail (nothing valid follows: a
// writer died mid-write or the file was truncated).
#ifndef SYNCSTREAM_FILE_SEGMENT_FORMAT_H_
#define SYNCSTREAM_FILE_SEGMENT_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"
#include "syncstream/core/record.h"
#include "syncstream/proto/record.pb.h"

namespace syncstream::file {

inline constexpr size_t kSegmentHeaderSize = 72;
inline constexpr size_t kFrameHeaderSize = 12;
inline constexpr uint32_t kFrameMagic = 0x53465246;
inline constexpr uint32_t kMaxFramePayload = 16u << 20;
inline constexpr uint32_t kSegmentFlagClear = 1u;

struct SegmentHeader {
  uint64_t generation = 0;
  uint64_t first_index = 0;
  uint64_t clear_index = 0;
  uint32_t record_count = 0;
  uint32_t flags = 0;
  uint64_t payload_bytes = 0;
  uint64_t writer_nonce = 0;
  uint32_t last_frame_offset = 0;

  bool is_clear_marker() const { return (flags & kSegmentFlagClear) != 0; }
  // One past the index of the last record.
  uint64_t end_index() const { return first_index + record_count; }
};

// Appends the 72-byte encoding of `header` to `out`.
void EncodeSegmentHeader(const SegmentHeader& header, std::string* out);
// Decodes and checks (magic, version, size, CRC) a header from the first
// kSegmentHeaderSize bytes of `bytes`. `name` names the segment in errors.
absl::StatusOr<SegmentHeader> DecodeSegmentHeader(absl::string_view bytes,
                                                  absl::string_view name);

// Appends one frame holding `record` to `out` and returns its offset in
// `out`. `scratch` is reused between calls to avoid allocation.
size_t AppendRecordFrame(const Record& record, proto::Record* scratch,
                         std::string* out);

// Appends one frame holding the serialized `message` (any type) to `out` and
// returns its offset in `out`. ResourceExhausted, `out` unchanged, if the
// message is longer than kMaxFramePayload.
absl::StatusOr<size_t> AppendMessageFrame(
    const google::protobuf::MessageLite& message, std::string* out);

// Whether a whole frame with a matching checksum starts at `offset`.
bool IsValidFrameAt(absl::string_view bytes, size_t offset);

// A stretch of a segment that failed its checks.
struct SegmentDamage {
  uint64_t offset = 0;  // file offset where the damage starts
  uint64_t length = 0;  // bytes skipped
  bool torn_tail = false;  // nothing valid follows it
  std::string cause;
};

// Where a walk over frames ended.
struct FrameWalkEnd {
  uint64_t valid_end = 0;          // just past the last valid frame
  uint64_t last_frame_offset = 0;  // of the last valid frame (0 if none)
};

// Walks the frames of `bytes` from offset `begin` to the end: calls
// `on_frame` with the offset and payload of each frame whose checks pass, and
// `on_damage` for each stretch that fails them (then resynchronises on the
// next valid frame; the last stretch is a torn tail when nothing valid
// follows it). Payloads are views into `bytes`, checked but not parsed.
FrameWalkEnd WalkFrames(
    absl::string_view bytes, size_t begin,
    const std::function<void(uint64_t offset, absl::string_view payload)>&
        on_frame,
    const std::function<void(SegmentDamage damage)>& on_damage);

struct DecodedSegment {
  SegmentHeader header;
  std::vector<Record> records;  // every record whose checks passed, in order
  std::vector<SegmentDamage> damages;
  // File offset just past the last valid frame: where a repair truncates a
  // torn tail.
  uint64_t valid_end = kSegmentHeaderSize;
  // File offset of the last valid frame (0 if none).
  uint64_t last_frame_offset = 0;
};

// Decodes a whole segment file. A damaged header is an error (DataLoss):
// without it the records cannot be placed. Damaged frames are skipped and
// listed in `damages`; records that decode but fail FromProto's validation
// are damage too. With `parse_records` false only the framing and checksums
// are checked (for repairs): `records` stays empty.
absl::StatusOr<DecodedSegment> DecodeSegment(absl::string_view bytes,
                                             absl::string_view name,
                                             bool parse_records = true);

// "seg-00000000000000000042" and back; ParseSegmentName rejects anything
// else.
std::string SegmentFileName(uint64_t generation);
bool ParseSegmentName(absl::string_view name, uint64_t* generation);

}  // namespace syncstream::file

#endif  // SYNCSTREAM_FILE_SEGMENT_FORMAT_H_
