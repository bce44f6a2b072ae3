#include "syncstream/file/segment_format.h"

#include <zlib.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace syncstream::file {
namespace {

constexpr char kSegmentMagic[8] = {'S', 'S', 'F', 'S', 'E', 'G', '\x01', '\n'};
constexpr uint32_t kSegmentVersion = 1;
constexpr size_t kHeaderCrcOffset = 68;
constexpr absl::string_view kSegmentPrefix = "seg-";
constexpr size_t kSegmentDigits = 20;

void PutU32(uint32_t v, char* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void PutU64(uint64_t v, char* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

uint32_t Crc(const char* data, size_t size, uint32_t crc = 0) {
  // zlib's crc32 takes uInt lengths; frames are far below 4 GiB.
  return static_cast<uint32_t>(
      crc32(crc, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(size)));
}

// Whether a whole valid frame (magic, length in bounds, CRC) starts at `pos`.
bool ValidFrameAt(absl::string_view bytes, size_t pos, uint32_t* length) {
  if (bytes.size() - pos < kFrameHeaderSize) return false;
  const char* p = bytes.data() + pos;
  if (GetU32(p) != kFrameMagic) return false;
  uint32_t len = GetU32(p + 8);
  if (len > kMaxFramePayload) return false;
  if (bytes.size() - pos - kFrameHeaderSize < len) return false;
  // One pass over the length field and the payload, which are adjacent.
  if (Crc(p + 8, 4 + len) != GetU32(p + 4)) return false;
  *length = len;
  return true;
}

// The offset of the next valid frame after `pos`, or bytes.size().
size_t FindNextFrame(absl::string_view bytes, size_t pos) {
  uint32_t length;
  for (size_t p = pos + 1; p + kFrameHeaderSize <= bytes.size(); ++p) {
    // Cheap magic check first, full validation only on a match.
    if (static_cast<unsigned char>(bytes[p]) != (kFrameMagic & 0xff)) continue;
    if (ValidFrameAt(bytes, p, &length)) return p;
  }
  return bytes.size();
}

std::string DescribeBadFrame(absl::string_view bytes, size_t pos) {
  if (bytes.size() - pos < kFrameHeaderSize) {
    return absl::StrCat("truncated frame header (", bytes.size() - pos,
                        " of ", kFrameHeaderSize, " bytes)");
  }
  const char* p = bytes.data() + pos;
  if (GetU32(p) != kFrameMagic) return "bad frame magic";
  uint32_t len = GetU32(p + 8);
  if (len > kMaxFramePayload) {
    return absl::StrCat("frame length ", len, " exceeds the limit ",
                        kMaxFramePayload);
  }
  if (bytes.size() - pos - kFrameHeaderSize < len) {
    return absl::StrCat("truncated frame (", len, " payload bytes, ",
                        bytes.size() - pos - kFrameHeaderSize, " present)");
  }
  return "frame checksum mismatch";
}

}  // namespace

void EncodeSegmentHeader(const SegmentHeader& header, std::string* out) {
  char buf[kSegmentHeaderSize] = {};
  std::memcpy(buf, kSegmentMagic, sizeof(kSegmentMagic));
  PutU32(kSegmentVersion, buf + 8);
  PutU32(kSegmentHeaderSize, buf + 12);
  PutU64(header.generation, buf + 16);
  PutU64(header.first_index, buf + 24);
  PutU64(header.clear_index, buf + 32);
  PutU32(header.record_count, buf + 40);
  PutU32(header.flags, buf + 44);
  PutU64(header.payload_bytes, buf + 48);
  PutU64(header.writer_nonce, buf + 56);
  PutU32(header.last_frame_offset, buf + 64);
  PutU32(Crc(buf, kHeaderCrcOffset), buf + kHeaderCrcOffset);
  out->append(buf, kSegmentHeaderSize);
}

absl::StatusOr<SegmentHeader> DecodeSegmentHeader(absl::string_view bytes,
                                                  absl::string_view name) {
  if (bytes.size() < kSegmentHeaderSize) {
    return absl::DataLossError(absl::StrCat(
        "segment '", name, "': header truncated (", bytes.size(), " of ",
        kSegmentHeaderSize, " bytes)"));
  }
  const char* p = bytes.data();
  if (std::memcmp(p, kSegmentMagic, sizeof(kSegmentMagic)) != 0) {
    return absl::DataLossError(absl::StrCat(
        "segment '", name, "': header magic mismatch (not a syncstream segment?)"));
  }
  if (GetU32(p + 8) != kSegmentVersion) {
    return absl::DataLossError(absl::StrCat("segment '", name,
                                            "': unsupported version ",
                                            GetU32(p + 8)));
  }
  if (GetU32(p + 12) != kSegmentHeaderSize) {
    return absl::DataLossError(absl::StrCat(
        "segment '", name, "': header size ", GetU32(p + 12), " != ",
        kSegmentHeaderSize));
  }
  if (Crc(p, kHeaderCrcOffset) != GetU32(p + kHeaderCrcOffset)) {
    return absl::DataLossError(
        absl::StrCat("segment '", name, "': header checksum mismatch"));
  }
  SegmentHeader header;
  header.generation = GetU64(p + 16);
  header.first_index = GetU64(p + 24);
  header.clear_index = GetU64(p + 32);
  header.record_count = GetU32(p + 40);
  header.flags = GetU32(p + 44);
  header.payload_bytes = GetU64(p + 48);
  header.writer_nonce = GetU64(p + 56);
  header.last_frame_offset = GetU32(p + 64);
  if (header.clear_index > header.first_index ||
      header.first_index > UINT64_MAX - header.record_count) {
    return absl::DataLossError(absl::StrCat(
        "segment '", name, "': inconsistent indexes (first ",
        header.first_index, ", clear ", header.clear_index, ")"));
  }
  return header;
}

namespace {

// Appends the frame of `message`, whose serialized length is `length`.
size_t AppendFrameOfLength(const google::protobuf::MessageLite& message,
                           size_t length, std::string* out) {
  const size_t start = out->size();
  out->resize(start + kFrameHeaderSize + length);
  char* p = &(*out)[start];
  PutU32(kFrameMagic, p);
  PutU32(static_cast<uint32_t>(length), p + 8);
  message.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(p + kFrameHeaderSize));
  PutU32(Crc(p + 8, 4 + length), p + 4);
  return start;
}

}  // namespace

size_t AppendRecordFrame(const Record& record, proto::Record* scratch,
                         std::string* out) {
  ToProto(record, scratch);
  return AppendFrameOfLength(*scratch, scratch->ByteSizeLong(), out);
}

absl::StatusOr<size_t> AppendMessageFrame(
    const google::protobuf::MessageLite& message, std::string* out) {
  const size_t length = message.ByteSizeLong();
  if (length > kMaxFramePayload) {
    return absl::ResourceExhaustedError(absl::StrCat(
        message.GetTypeName(), " of ", length,
        " bytes exceeds the frame limit of ", kMaxFramePayload, " bytes"));
  }
  return AppendFrameOfLength(message, length, out);
}

bool IsValidFrameAt(absl::string_view bytes, size_t offset) {
  uint32_t length;
  return offset <= bytes.size() && ValidFrameAt(bytes, offset, &length);
}

FrameWalkEnd WalkFrames(
    absl::string_view bytes, size_t begin,
    const std::function<void(uint64_t offset, absl::string_view payload)>&
        on_frame,
    const std::function<void(SegmentDamage damage)>& on_damage) {
  FrameWalkEnd end;
  end.valid_end = begin;
  size_t pos = begin;
  while (pos < bytes.size()) {
    uint32_t length = 0;
    if (!ValidFrameAt(bytes, pos, &length)) {
      SegmentDamage damage;
      damage.offset = pos;
      damage.cause = DescribeBadFrame(bytes, pos);
      size_t next = FindNextFrame(bytes, pos);
      damage.length = next - pos;
      damage.torn_tail = next == bytes.size();
      on_damage(std::move(damage));
      pos = next;
      continue;
    }
    on_frame(pos, bytes.substr(pos + kFrameHeaderSize, length));
    end.last_frame_offset = pos;
    pos += kFrameHeaderSize + length;
    end.valid_end = pos;
  }
  return end;
}

absl::StatusOr<DecodedSegment> DecodeSegment(absl::string_view bytes,
                                             absl::string_view name,
                                             bool parse_records) {
  DecodedSegment out;
  auto header = DecodeSegmentHeader(bytes, name);
  if (!header.ok()) return header.status();
  out.header = *header;
  proto::Record message;
  const FrameWalkEnd end = WalkFrames(
      bytes, kSegmentHeaderSize,
      [&](uint64_t offset, absl::string_view payload) {
        if (!parse_records) return;  // framing and checksum only
        absl::Status bad;
        if (!message.ParseFromArray(payload.data(),
                                    static_cast<int>(payload.size()))) {
          bad = absl::DataLossError("record does not parse");
        } else {
          auto record = FromProto(message);
          if (record.ok()) {
            out.records.push_back(*std::move(record));
          } else {
            bad = record.status();
          }
        }
        if (!bad.ok()) {
          out.damages.push_back(SegmentDamage{
              offset, kFrameHeaderSize + payload.size(), false,
              std::string(bad.message())});
        }
      },
      [&](SegmentDamage damage) { out.damages.push_back(std::move(damage)); });
  out.valid_end = end.valid_end;
  out.last_frame_offset = end.last_frame_offset;
  return out;
}

std::string SegmentFileName(uint64_t generation) {
  return absl::StrFormat("seg-%020u", generation);
}

bool ParseSegmentName(absl::string_view name, uint64_t* generation) {
  if (name.size() != kSegmentPrefix.size() + kSegmentDigits) return false;
  if (name.substr(0, kSegmentPrefix.size()) != kSegmentPrefix) return false;
  absl::string_view digits = name.substr(kSegmentPrefix.size());
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(digits, generation);
}

}  // namespace syncstream::file
