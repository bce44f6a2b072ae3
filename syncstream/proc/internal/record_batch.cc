#include "syncstream/proc/internal/record_batch.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace syncstream::proc_internal {
namespace {

static_assert(sizeof(pid_t) == 4, "pid_t is encoded as 32 bits");

template <typename T>
void PutAt(char* base, size_t offset, T value) {
  std::memcpy(base + offset, &value, sizeof(T));
}

template <typename T>
T Get(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

constexpr size_t kCountOffset = 16;
constexpr size_t kFlagsOffset = 20;
constexpr size_t kMaxShort = 0xffff;

bool ValidKind(uint8_t kind) {
  return kind >= static_cast<uint8_t>(RecordKind::kLine) &&
         kind <= static_cast<uint8_t>(RecordKind::kWarning);
}

absl::Status Corrupt(uint32_t index, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("proc record batch: record ", index, ": ", what));
}

}  // namespace

void RecordBatchEncoder::Grow(size_t more) {
  size_t capacity = std::max<size_t>(capacity_ * 2, 4096);
  while (capacity - size_ < more) capacity *= 2;
  std::unique_ptr<char[]> grown(new char[capacity]);
  if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_);
  data_ = std::move(grown);
  capacity_ = capacity;
}

void RecordBatchEncoder::Reset(const BatchHeader& header) {
  size_ = 0;
  count_ = 0;
  char* p = Extend(kBatchHeaderSize);
  PutAt<uint32_t>(p, 0, kBatchMagic);
  PutAt<uint16_t>(p, 4, kBatchVersion);
  PutAt<uint16_t>(p, 6, static_cast<uint16_t>(kBatchHeaderSize));
  PutAt<uint32_t>(p, 8, header.generation);
  PutAt<uint32_t>(p, 12, header.mirror_id);
  PutAt<uint32_t>(p, kCountOffset, 0);  // set in bytes()
  PutAt<uint32_t>(p, kFlagsOffset, header.flags);
  PutAt<int32_t>(p, 24, header.pid);
  PutAt<uint32_t>(p, 28, 0);
  PutAt<uint64_t>(p, 32, header.start_time);
}

size_t RecordBatchEncoder::EncodedSize(const Record& record) {
  size_t size = kRecordHeaderSize + std::min(record.sender.size(), kMaxShort) +
                std::min(record.type.size(), kMaxShort) +
                std::min<size_t>(record.text.size(), UINT32_MAX);
  const size_t traces = std::min(record.trace.size(), kMaxShort);
  for (size_t i = 0; i < traces; ++i) {
    size += 4 + std::min<size_t>(record.trace[i].size(), UINT32_MAX);
  }
  return size;
}

void RecordBatchEncoder::Add(const Record& record) {
  if (!record.trace.empty() || record.text.size() > UINT32_MAX ||
      record.sender.size() > kMaxShort || record.type.size() > kMaxShort) {
    AddWithTrace(record);
    return;
  }
  // The path of every line: one extension, a header built in registers, and
  // three copies.
  const size_t sender = record.sender.size();
  const size_t type = record.type.size();
  const size_t text = record.text.size();
  char* p = Extend(kRecordHeaderSize + sender + type + text);
  char header[kRecordHeaderSize];
  PutAt<uint8_t>(header, 0, static_cast<uint8_t>(record.kind));
  PutAt<uint8_t>(header, 1, record.continued ? 1 : 0);
  PutAt<uint16_t>(header, 2, static_cast<uint16_t>(sender));
  PutAt<uint16_t>(header, 4, static_cast<uint16_t>(type));
  PutAt<uint16_t>(header, 6, 0);
  PutAt<uint32_t>(header, 8, static_cast<uint32_t>(text));
  PutAt<uint64_t>(header, 12, record.sequence);
  PutAt<int64_t>(header, 20, absl::ToUnixNanos(record.timestamp));
  std::memcpy(p, header, kRecordHeaderSize);
  p += kRecordHeaderSize;
  std::memcpy(p, record.sender.data(), sender);
  p += sender;
  if (type > 0) std::memcpy(p, record.type.data(), type);
  p += type;
  std::memcpy(p, record.text.data(), text);
  ++count_;
}

void RecordBatchEncoder::AddWithTrace(const Record& record) {
  const size_t sender = std::min(record.sender.size(), kMaxShort);
  const size_t type = std::min(record.type.size(), kMaxShort);
  const size_t traces = std::min(record.trace.size(), kMaxShort);
  const size_t text = std::min<size_t>(record.text.size(), UINT32_MAX);
  char* p = Extend(EncodedSize(record));
  auto put = [&p](const void* data, size_t n) {
    if (n > 0) std::memcpy(p, data, n);
    p += n;
  };
  const uint8_t kind = static_cast<uint8_t>(record.kind);
  const uint8_t flags = record.continued ? 1 : 0;
  const uint16_t sender16 = static_cast<uint16_t>(sender);
  const uint16_t type16 = static_cast<uint16_t>(type);
  const uint16_t traces16 = static_cast<uint16_t>(traces);
  const uint32_t text32 = static_cast<uint32_t>(text);
  const uint64_t sequence = record.sequence;
  const int64_t nanos = absl::ToUnixNanos(record.timestamp);
  put(&kind, 1);
  put(&flags, 1);
  put(&sender16, 2);
  put(&type16, 2);
  put(&traces16, 2);
  put(&text32, 4);
  put(&sequence, 8);
  put(&nanos, 8);
  put(record.sender.data(), sender);
  put(record.type.data(), type);
  put(record.text.data(), text);
  for (size_t i = 0; i < traces; ++i) {
    const std::string& frame = record.trace[i];
    const uint32_t length =
        static_cast<uint32_t>(std::min<size_t>(frame.size(), UINT32_MAX));
    put(&length, 4);
    put(frame.data(), length);
  }
  ++count_;
}

void RecordBatchEncoder::AddFlags(uint32_t flags) {
  PutAt<uint32_t>(data_.get(), kFlagsOffset, this->flags() | flags);
}

uint32_t RecordBatchEncoder::flags() const {
  return Get<uint32_t>(data_.get() + kFlagsOffset);
}

absl::string_view RecordBatchEncoder::bytes() {
  PutAt<uint32_t>(data_.get(), kCountOffset, count_);
  return absl::string_view(data_.get(), size_);
}

absl::Status ValidateRecordBatch(absl::string_view bytes,
                                 BatchHeader* header) {
  if (bytes.size() < kBatchHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "proc record batch: ", bytes.size(),
        " bytes, shorter than its header (", kBatchHeaderSize, ")"));
  }
  const char* p = bytes.data();
  if (Get<uint32_t>(p) != kBatchMagic) {
    return absl::InvalidArgumentError(
        "proc record batch: magic mismatch (not a LineProcMirror batch?)");
  }
  if (Get<uint16_t>(p + 4) != kBatchVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("proc record batch: version ", Get<uint16_t>(p + 4),
                     ", this build reads version ", kBatchVersion));
  }
  if (Get<uint16_t>(p + 6) != kBatchHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("proc record batch: header size ", Get<uint16_t>(p + 6),
                     ", expected ", kBatchHeaderSize));
  }
  BatchHeader parsed;
  parsed.generation = Get<uint32_t>(p + 8);
  parsed.mirror_id = Get<uint32_t>(p + 12);
  parsed.record_count = Get<uint32_t>(p + kCountOffset);
  parsed.flags = Get<uint32_t>(p + kFlagsOffset);
  parsed.pid = Get<int32_t>(p + 24);
  parsed.start_time = Get<uint64_t>(p + 32);

  // Every length against the bytes left.
  size_t offset = kBatchHeaderSize;
  for (uint32_t i = 0; i < parsed.record_count; ++i) {
    if (bytes.size() - offset < kRecordHeaderSize) {
      return Corrupt(i, "header runs past the end of the batch");
    }
    const char* r = p + offset;
    uint8_t kind = Get<uint8_t>(r);
    uint8_t flags = Get<uint8_t>(r + 1);
    if (!ValidKind(kind)) return Corrupt(i, absl::StrCat("unknown kind ", kind));
    if (flags > 1) return Corrupt(i, absl::StrCat("unknown flags ", flags));
    if (flags != 0 && kind != static_cast<uint8_t>(RecordKind::kLine)) {
      return Corrupt(i, "`continued` set on a record that is not a line");
    }
    uint64_t payload = uint64_t{Get<uint16_t>(r + 2)} + Get<uint16_t>(r + 4) +
                       Get<uint32_t>(r + 8);
    offset += kRecordHeaderSize;
    if (payload > bytes.size() - offset) {
      return Corrupt(i, "text runs past the end of the batch");
    }
    offset += payload;
    uint16_t traces = Get<uint16_t>(r + 6);
    for (uint16_t t = 0; t < traces; ++t) {
      if (bytes.size() - offset < 4) {
        return Corrupt(i, "trace entry runs past the end of the batch");
      }
      uint32_t length = Get<uint32_t>(p + offset);
      offset += 4;
      if (length > bytes.size() - offset) {
        return Corrupt(i, "trace entry runs past the end of the batch");
      }
      offset += length;
    }
  }
  if (offset != bytes.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("proc record batch: ", bytes.size() - offset,
                     " bytes after the last of ", parsed.record_count,
                     " records"));
  }

  *header = parsed;
  return absl::OkStatus();
}

absl::Status DecodeRecordBatch(
    absl::string_view bytes, BatchHeader* header,
    const std::function<void(const Record&)>& on_record) {
  BatchHeader parsed;
  absl::Status valid = ValidateRecordBatch(bytes, &parsed);
  if (!valid.ok()) return valid;
  *header = parsed;
  Record record;
  ForEachValidatedRecord(bytes, parsed, &record, on_record);
  return absl::OkStatus();
}

}  // namespace syncstream::proc_internal
