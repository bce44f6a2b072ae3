#include "syncstream/host/internal/batch_codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace syncstream::host::internal {
namespace {

constexpr uint8_t kKindMask = 0x07;
constexpr uint8_t kContinued = 0x08;
constexpr uint8_t kHasSender = 0x10;
constexpr uint8_t kHasType = 0x20;
constexpr uint8_t kHasTrace = 0x40;
constexpr uint8_t kReservedBits = 0x80;
constexpr size_t kMaxVarintBytes = 10;

char* PutVarint(char* p, uint64_t value) {
  while (value >= 0x80) {
    *p++ = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  *p++ = static_cast<char>(value);
  return p;
}

void AppendVarint(std::string* out, uint64_t value) {
  char buffer[kMaxVarintBytes];
  out->append(buffer, PutVarint(buffer, value) - buffer);
}

void AppendBytes(std::string* out, absl::string_view bytes) {
  AppendVarint(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

uint64_t ZigZag(uint64_t delta) {
  return (delta << 1) ^ (0 - (delta >> 63));
}
uint64_t UnZigZag(uint64_t value) { return (value >> 1) ^ (0 - (value & 1)); }

// Inlined with a one-byte fast path: a record holds five to seven varints,
// nearly all of them below 128, and the collector reads each twice (checks,
// then decodes).
inline bool GetVarint(absl::string_view* in, uint64_t* value) {
  if (!in->empty() && static_cast<uint8_t>((*in)[0]) < 0x80) {
    *value = static_cast<uint8_t>((*in)[0]);
    in->remove_prefix(1);
    return true;
  }
  uint64_t result = 0;
  for (size_t i = 0; i < kMaxVarintBytes && i < in->size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    if (i == kMaxVarintBytes - 1 && byte > 1) return false;  // over 64 bits
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      *value = result;
      return true;
    }
  }
  return false;
}

inline bool GetBytes(absl::string_view* in, absl::string_view* bytes) {
  uint64_t length;
  if (!GetVarint(in, &length) || length > in->size()) return false;
  *bytes = in->substr(0, static_cast<size_t>(length));
  in->remove_prefix(static_cast<size_t>(length));
  return true;
}

// One record's fields as views into the batch.
struct Fields {
  uint8_t flags = 0;
  uint64_t sequence = 0;
  uint64_t timestamp_delta = 0;
  absl::string_view text;
  uint64_t trace_count = 0;
  absl::string_view trace;  // the encoded entries
};

// Parses the record at the front of `*in`, updating `*sender` and `*type`
// when it carries them. Returns "" or what is wrong.
inline const char* ParseRecord(absl::string_view* in, absl::string_view* sender,
                        absl::string_view* type, Fields* f) {
  if (in->empty()) return "truncated";
  f->flags = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  const uint8_t kind = f->flags & kKindMask;
  if (kind < static_cast<uint8_t>(RecordKind::kLine) ||
      kind > static_cast<uint8_t>(RecordKind::kWarning)) {
    return "unknown kind";
  }
  if ((f->flags & kReservedBits) != 0) return "reserved flag set";
  if ((f->flags & kContinued) != 0 &&
      kind != static_cast<uint8_t>(RecordKind::kLine)) {
    return "only a line can be continued";
  }
  if ((f->flags & kHasSender) != 0 && !GetBytes(in, sender)) {
    return "bad sender";
  }
  if ((f->flags & kHasType) != 0 && !GetBytes(in, type)) return "bad type";
  if (!GetVarint(in, &f->sequence)) return "bad sequence";
  if (!GetVarint(in, &f->timestamp_delta)) return "bad timestamp";
  if (!GetBytes(in, &f->text)) return "bad text";
  f->trace_count = 0;
  f->trace = absl::string_view();
  if ((f->flags & kHasTrace) != 0) {
    if (!GetVarint(in, &f->trace_count)) return "bad trace count";
    // Each entry takes at least one byte: a count beyond the bytes left is
    // a lie, refused before anything is sized by it.
    if (f->trace_count > in->size()) return "bad trace count";
    const char* begin = in->data();
    for (uint64_t i = 0; i < f->trace_count; ++i) {
      absl::string_view entry;
      if (!GetBytes(in, &entry)) return "bad trace entry";
    }
    f->trace = absl::string_view(begin, in->data() - begin);
  }
  return "";
}

}  // namespace

void BatchEncoder::Reset(std::string* out) {
  out_ = out;
  out_->clear();
  out_->push_back(static_cast<char>(kBatchEncodingVersion));
  out_->append(4, '\0');  // the count, written by Add
  count_ = 0;
  sender_.clear();
  type_.clear();
  timestamp_ = 0;
}

void BatchEncoder::Add(const Record& record) {
  uint8_t flags = static_cast<uint8_t>(record.kind) & kKindMask;
  if (record.continued) flags |= kContinued;
  const bool new_sender = record.sender != sender_;
  const bool new_type = record.type != type_;
  if (new_sender) flags |= kHasSender;
  if (new_type) flags |= kHasType;
  if (!record.trace.empty()) flags |= kHasTrace;
  out_->push_back(static_cast<char>(flags));
  if (new_sender) {
    AppendBytes(out_, record.sender);
    sender_ = record.sender;
  }
  if (new_type) {
    AppendBytes(out_, record.type);
    type_ = record.type;
  }
  const uint64_t timestamp =
      static_cast<uint64_t>(absl::ToUnixNanos(record.timestamp));
  char buffer[3 * kMaxVarintBytes];
  char* p = PutVarint(buffer, record.sequence);
  p = PutVarint(p, ZigZag(timestamp - timestamp_));
  p = PutVarint(p, record.text.size());
  out_->append(buffer, p - buffer);
  out_->append(record.text);
  timestamp_ = timestamp;
  if (!record.trace.empty()) {
    AppendVarint(out_, record.trace.size());
    for (const std::string& entry : record.trace) AppendBytes(out_, entry);
  }
  ++count_;
  const uint32_t count = count_;
  for (int i = 0; i < 4; ++i) {
    (*out_)[1 + i] = static_cast<char>((count >> (8 * i)) & 0xff);
  }
}

BatchReader::BatchReader(absl::string_view bytes, uint32_t count)
    : rest_(bytes), count_(count) {}

namespace {

// The record count of a batch whose header `bytes` starts with, or what is
// wrong with the header.
absl::StatusOr<uint32_t> ReadHeader(absl::string_view bytes) {
  if (bytes.size() < kBatchHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record batch of ", bytes.size(), " bytes: shorter than its header"));
  }
  if (static_cast<uint8_t>(bytes[0]) != kBatchEncodingVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record batch: encoding version ", static_cast<uint8_t>(bytes[0]),
        ", expected ", kBatchEncodingVersion));
  }
  uint32_t count = 0;
  for (int i = 0; i < 4; ++i) {
    count |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[1 + i]))
             << (8 * i);
  }
  return count;
}

// Copies `from` into `to` unless equal: names rarely change within a batch.
inline void AssignName(absl::string_view from, std::string* to) {
  if (absl::string_view(*to) != from) to->assign(from.data(), from.size());
}

// Fills `*record` from parsed fields; `*timestamp` is the previous record's
// and becomes this one's.
inline void FillRecord(const Fields& f, absl::string_view sender,
                       absl::string_view type, uint64_t* timestamp,
                       Record* record) {
  record->kind = static_cast<RecordKind>(f.flags & kKindMask);
  record->continued = (f.flags & kContinued) != 0;
  AssignName(sender, &record->sender);
  AssignName(type, &record->type);
  record->sequence = f.sequence;
  *timestamp += UnZigZag(f.timestamp_delta);
  record->timestamp = absl::FromUnixNanos(static_cast<int64_t>(*timestamp));
  record->text.assign(f.text.data(), f.text.size());
  if (f.trace_count == 0) {
    record->trace.clear();
    return;
  }
  record->trace.resize(static_cast<size_t>(f.trace_count));
  absl::string_view trace = f.trace;
  for (std::string& entry : record->trace) {
    absl::string_view bytes;
    GetBytes(&trace, &bytes);  // checked by ParseRecord
    entry.assign(bytes.data(), bytes.size());
  }
}

absl::Status RecordProblem(uint32_t i, uint32_t count, const char* problem) {
  return absl::InvalidArgumentError(absl::StrCat(
      "record batch: record ", i, " of ", count, ": ", problem));
}

absl::Status TrailingBytes(size_t bytes, uint32_t count) {
  return absl::InvalidArgumentError(absl::StrCat(
      "record batch: ", bytes, " bytes after its ", count, " records"));
}

}  // namespace

absl::StatusOr<size_t> DecodeBatch(absl::string_view bytes,
                                   std::vector<Record>* records) {
  absl::StatusOr<uint32_t> count = ReadHeader(bytes);
  if (!count.ok()) return count.status();
  bytes.remove_prefix(kBatchHeaderBytes);
  // Every record takes at least 4 bytes (flags, sequence, timestamp, text
  // length): a count beyond that is a lie, refused before anything is sized
  // by it.
  if (*count > bytes.size() / 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record batch: ", *count, " records announced in ", bytes.size(),
        " bytes"));
  }
  if (records->size() < *count) records->resize(*count);
  absl::string_view sender, type;
  uint64_t timestamp = 0;
  Fields fields;
  for (uint32_t i = 0; i < *count; ++i) {
    const char* problem = ParseRecord(&bytes, &sender, &type, &fields);
    if (*problem != '\0') return RecordProblem(i, *count, problem);
    FillRecord(fields, sender, type, &timestamp, &(*records)[i]);
  }
  if (!bytes.empty()) return TrailingBytes(bytes.size(), *count);
  return static_cast<size_t>(*count);
}

absl::StatusOr<BatchReader> BatchReader::Open(absl::string_view bytes) {
  absl::StatusOr<uint32_t> header = ReadHeader(bytes);
  if (!header.ok()) return header.status();
  const uint32_t count = *header;
  bytes.remove_prefix(kBatchHeaderBytes);
  absl::string_view in = bytes;
  absl::string_view sender, type;
  Fields fields;
  for (uint32_t i = 0; i < count; ++i) {
    const char* problem = ParseRecord(&in, &sender, &type, &fields);
    if (*problem != '\0') return RecordProblem(i, count, problem);
  }
  if (!in.empty()) return TrailingBytes(in.size(), count);
  return BatchReader(bytes, count);
}

bool BatchReader::Next(Record* record) {
  if (read_ == count_) return false;
  Fields f;
  // Validated by Open(): cannot fail.
  ParseRecord(&rest_, &sender_, &type_, &f);
  ++read_;
  FillRecord(f, sender_, type_, &timestamp_, record);
  return true;
}

}  // namespace syncstream::host::internal
