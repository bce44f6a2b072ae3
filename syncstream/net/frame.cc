#include "syncstream/net/frame.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/delimited_message_util.h"

namespace syncstream::net {

absl::StatusOr<std::optional<FrameHeader>> PeekFrameHeader(
    absl::string_view buffered, size_t max_frame_bytes) {
  uint64_t length = 0;
  for (size_t i = 0; i < kMaxFrameHeaderBytes; ++i) {
    if (i >= buffered.size()) return std::optional<FrameHeader>();
    uint8_t byte = static_cast<uint8_t>(buffered[i]);
    length |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (length > UINT32_MAX) {
        return absl::DataLossError(
            "malformed frame: length prefix exceeds 32 bits");
      }
      if (length > max_frame_bytes) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "frame of ", length, " bytes exceeds the maximum frame size of ",
            max_frame_bytes, " bytes"));
      }
      FrameHeader header;
      header.header_bytes = i + 1;
      header.body_bytes = static_cast<size_t>(length);
      return std::optional<FrameHeader>(header);
    }
  }
  return absl::DataLossError(
      "malformed frame: length prefix longer than 5 bytes");
}

namespace {

absl::StatusOr<size_t> Decode(absl::string_view buffered,
                              size_t max_frame_bytes, bool clear,
                              google::protobuf::MessageLite* message) {
  absl::StatusOr<std::optional<FrameHeader>> header =
      PeekFrameHeader(buffered, max_frame_bytes);
  if (!header.ok()) return header.status();
  if (!header->has_value() || buffered.size() < (*header)->total_bytes()) {
    return 0;
  }
  const size_t total = (*header)->total_bytes();
  google::protobuf::io::ArrayInputStream input(buffered.data(),
                                               static_cast<int>(total));
  bool clean_eof = false;
  // The utility merges into the message; DecodeFrame's frame replaces it.
  if (clear) message->Clear();
  if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(
          message, &input, &clean_eof) ||
      input.ByteCount() != static_cast<int64_t>(total)) {
    return absl::DataLossError(absl::StrCat(
        "malformed frame: ", (*header)->body_bytes, "-byte body is not a valid ",
        message->GetTypeName()));
  }
  return total;
}

}  // namespace

absl::StatusOr<size_t> DecodeFrame(absl::string_view buffered,
                                   size_t max_frame_bytes,
                                   google::protobuf::MessageLite* message) {
  return Decode(buffered, max_frame_bytes, /*clear=*/true, message);
}

absl::StatusOr<size_t> DecodeFrameMerging(
    absl::string_view buffered, size_t max_frame_bytes,
    google::protobuf::MessageLite* message) {
  return Decode(buffered, max_frame_bytes, /*clear=*/false, message);
}

absl::Status AppendFrame(const google::protobuf::MessageLite& message,
                         size_t max_frame_bytes, std::string* out) {
  const size_t body = message.ByteSizeLong();
  if (body > max_frame_bytes || body > UINT32_MAX) {
    return absl::ResourceExhaustedError(absl::StrCat(
        message.GetTypeName(), " of ", body,
        " bytes exceeds the maximum frame size of ", max_frame_bytes,
        " bytes"));
  }
  const size_t total =
      google::protobuf::io::CodedOutputStream::VarintSize32(
          static_cast<uint32_t>(body)) +
      body;
  const size_t old_size = out->size();
  out->resize(old_size + total);
  google::protobuf::io::ArrayOutputStream output(&(*out)[old_size],
                                                 static_cast<int>(total));
  if (!google::protobuf::util::SerializeDelimitedToZeroCopyStream(message,
                                                                  &output)) {
    out->resize(old_size);
    return absl::InternalError(absl::StrCat(
        "cannot serialize ", message.GetTypeName(), " (missing fields?)"));
  }
  return absl::OkStatus();
}

}  // namespace syncstream::net
