// Frames: how syncstream's transport puts protobuf messages on a byte stream.
//
// A frame is one message in Protobuf's own delimited form: the body's length
// as a varint, then the body (google/protobuf/util/delimited_message_util.h
// writes and parses it). The length is capped: a decoder peeks the varint
// first and rejects a frame longer than the maximum before any byte of its
// body is buffered or allocated, so a hostile peer cannot make the receiver
// allocate what it claims.
//
// These functions are the pure codec (no I/O); Connection (connection.h)
// uses them over sockets, and the fuzz target feeds them arbitrary bytes.
#ifndef SYNCSTREAM_NET_FRAME_H_
#define SYNCSTREAM_NET_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"

namespace syncstream::net {

// 16 MiB: far above a batch of lines, far below what hurts a server.
inline constexpr size_t kDefaultMaxFrameBytes = 16 << 20;
// Longest length prefix: a varint of a 32-bit length.
inline constexpr size_t kMaxFrameHeaderBytes = 5;

struct FrameHeader {
  size_t header_bytes = 0;  // the varint's length
  size_t body_bytes = 0;    // the message's length
  size_t total_bytes() const { return header_bytes + body_bytes; }
};

// Reads the length prefix at the front of `buffered`. nullopt: more bytes are
// needed to know it. DataLoss for a varint longer than 5 bytes or over 32
// bits; ResourceExhausted, naming both sizes, for a body longer than
// `max_frame_bytes`.
absl::StatusOr<std::optional<FrameHeader>> PeekFrameHeader(
    absl::string_view buffered, size_t max_frame_bytes);

// Decodes the frame at the front of `buffered` into `message` (replacing its
// contents) and returns the
// bytes it used; 0 when the frame is not complete yet (nothing is parsed).
// Errors as PeekFrameHeader, and DataLoss when the body does not parse as
// `message`'s type.
absl::StatusOr<size_t> DecodeFrame(absl::string_view buffered,
                                   size_t max_frame_bytes,
                                   google::protobuf::MessageLite* message);

// As DecodeFrame, but merges the frame into `message` without clearing it
// first (protobuf's merge: scalars replaced, repeated fields appended). A
// caller that clears only what it reuses keeps the storage of cleared
// repeated elements and their strings (RepeatedPtrField keeps them for
// reuse), so a steady stream of similar frames parses without allocating.
// On an error `message` holds a partial merge.
absl::StatusOr<size_t> DecodeFrameMerging(
    absl::string_view buffered, size_t max_frame_bytes,
    google::protobuf::MessageLite* message);

// Appends `message` as one frame to `out`. ResourceExhausted (and `out`
// unchanged) if its body would exceed `max_frame_bytes`.
absl::Status AppendFrame(const google::protobuf::MessageLite& message,
                         size_t max_frame_bytes, std::string* out);

}  // namespace syncstream::net

#endif  // SYNCSTREAM_NET_FRAME_H_
