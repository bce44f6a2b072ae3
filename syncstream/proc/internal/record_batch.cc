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
// ValidatedBatch copies a batch out of the queue this many bytes at a time,
// just ahead of the checks that read them.
constexpr size_t kCopyChunk = 4096;

bool ValidKind(uint8_t kind) {
  return kind >= static_cast<uint8_t>(RecordKind::kLine) &&
         kind <= static_cast<uint8_t>(RecordKind::kWarning);
}

absl::Status Corrupt(uint32_t index, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("proc record batch: record ", index, ": ", what));
}

// Assigns `size` bytes at `data` to `*to` unless it holds them already
// (names are a few bytes: compared inline, not through memcmp).
void AssignIfChanged(std::string* to, const char* data, size_t size) {
  if (to->size() == size) {
    const char* have = to->data();
    size_t i = 0;
    while (i < size && have[i] == data[i]) ++i;
    if (i == size) return;
  }
  to->assign(data, size);
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

size_t RecordBatchEncoder::EncodedSizeSlow(const Record& record) {
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
  if (!IsPlain(record)) {
    AddWithTrace(record);
    return;
  }
  AddPlain(static_cast<uint8_t>(record.kind), record.sender, record.type,
           record.sequence, absl::ToUnixNanos(record.timestamp), record.text,
           record.continued);
}

void RecordBatchEncoder::AddWithTrace(const Record& record) {
  const size_t sender = std::min(record.sender.size(), kMaxShort);
  const size_t type = std::min(record.type.size(), kMaxShort);
  const size_t traces = std::min(record.trace.size(), kMaxShort);
  const size_t text = std::min<size_t>(record.text.size(), UINT32_MAX);
  char* p = Extend(EncodedSizeSlow(record));
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

absl::StatusOr<std::shared_ptr<const ValidatedBatch>> ValidatedBatch::Copy(
    absl::string_view bytes) {
  const size_t size = bytes.size();
  if (size < kBatchHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "proc record batch: ", size, " bytes, shorter than its header (",
        kBatchHeaderSize, ")"));
  }
  if (size > UINT32_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("proc record batch: ", size, " bytes, more than 4 GiB"));
  }
  std::shared_ptr<ValidatedBatch> batch(new ValidatedBatch);
  batch->data_.reset(new char[size]);
  batch->size_ = size;
  absl::Status valid = batch->CopyAndValidate(bytes.data());
  if (!valid.ok()) return valid;
  return std::shared_ptr<const ValidatedBatch>(std::move(batch));
}

absl::Status ValidatedBatch::CopyAndValidate(const char* shared) {
  char* const copy = data_.get();
  const char* p = copy;  // every check reads the copy, never `shared`
  const size_t size = size_;
  // Copies the bytes up to `end` (<= size) if they are not yet, in chunks
  // that stay in the L1 cache until the checks below have read them.
  size_t copied = 0;
  auto copy_through = [&](size_t end) {
    if (end <= copied) return;
    const size_t to = std::min(size, std::max(end, copied + kCopyChunk));
    std::memcpy(copy + copied, shared + copied, to - copied);
    copied = to;
  };
  copy_through(kBatchHeaderSize);
  if (Get<uint32_t>(p) != kBatchMagic) {
    return absl::InvalidArgumentError(
        "proc record batch: magic mismatch (not a LineProcMirror batch?)");
  }
  const uint16_t version = Get<uint16_t>(p + 4);
  if (version != kBatchVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("proc record batch: version ", version,
                     ", this build reads version ", kBatchVersion));
  }
  const uint16_t header_size = Get<uint16_t>(p + 6);
  if (header_size != kBatchHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("proc record batch: header size ", header_size,
                     ", expected ", kBatchHeaderSize));
  }
  BatchHeader parsed;
  parsed.generation = Get<uint32_t>(p + 8);
  parsed.mirror_id = Get<uint32_t>(p + 12);
  parsed.record_count = Get<uint32_t>(p + kCountOffset);
  parsed.flags = Get<uint32_t>(p + kFlagsOffset);
  parsed.pid = Get<int32_t>(p + 24);
  parsed.start_time = Get<uint64_t>(p + 32);
  // A record takes at least its header: a count beyond that is a lie, and
  // must not size the index.
  if (parsed.record_count > (size - kBatchHeaderSize) / kRecordHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "proc record batch: ", parsed.record_count, " records cannot fit in ",
        size, " bytes"));
  }
  offsets_.reset(new uint32_t[parsed.record_count]);
  uint32_t* offsets = offsets_.get();
  size_t offset = kBatchHeaderSize;
  for (uint32_t i = 0; i < parsed.record_count; ++i) {
    if (size - offset < kRecordHeaderSize) {
      return Corrupt(i, "header runs past the end of the batch");
    }
    copy_through(offset + kRecordHeaderSize);
    const char* r = p + offset;
    const uint8_t kind = Get<uint8_t>(r);
    const uint8_t continued = Get<uint8_t>(r + 1);
    if (!ValidKind(kind)) return Corrupt(i, absl::StrCat("unknown kind ", kind));
    if (continued > 1) {
      return Corrupt(i, absl::StrCat("unknown flags ", continued));
    }
    if (continued != 0 && kind != static_cast<uint8_t>(RecordKind::kLine)) {
      return Corrupt(i, "`continued` set on a record that is not a line");
    }
    const uint64_t payload = uint64_t{Get<uint16_t>(r + 2)} +
                             Get<uint16_t>(r + 4) + Get<uint32_t>(r + 8);
    const uint16_t trace_count = Get<uint16_t>(r + 6);
    offsets[i] = static_cast<uint32_t>(offset);
    offset += kRecordHeaderSize;
    if (payload > size - offset) {
      return Corrupt(i, "text runs past the end of the batch");
    }
    offset += payload;
    for (uint16_t t = 0; t < trace_count; ++t) {
      if (size - offset < 4) {
        return Corrupt(i, "trace entry runs past the end of the batch");
      }
      copy_through(offset + 4);
      const uint32_t length = Get<uint32_t>(p + offset);
      offset += 4;
      if (length > size - offset) {
        return Corrupt(i, "trace entry runs past the end of the batch");
      }
      offset += length;
    }
  }
  if (offset != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("proc record batch: ", size - offset,
                     " bytes after the last of ", parsed.record_count,
                     " records"));
  }
  copy_through(size);  // the texts of the last records
  header_ = parsed;
  return absl::OkStatus();
}

void ValidatedBatch::Decode(size_t index, Record* into) const {
  // Every offset and length below was checked by CopyAndValidate() on these very
  // bytes, which nobody writes since.
  const char* p = data_.get() + offsets_[index];
  Record& record = *into;
  record.kind = static_cast<RecordKind>(Get<uint8_t>(p));
  record.continued = Get<uint8_t>(p + 1) != 0;
  const uint16_t sender_length = Get<uint16_t>(p + 2);
  const uint16_t type_length = Get<uint16_t>(p + 4);
  const uint16_t trace_count = Get<uint16_t>(p + 6);
  const uint32_t text_length = Get<uint32_t>(p + 8);
  record.sequence = Get<uint64_t>(p + 12);
  record.timestamp = absl::FromUnixNanos(Get<int64_t>(p + 20));
  p += kRecordHeaderSize;
  AssignIfChanged(&record.sender, p, sender_length);
  p += sender_length;
  AssignIfChanged(&record.type, p, type_length);
  p += type_length;
  record.text.assign(p, text_length);
  p += text_length;
  record.trace.resize(trace_count);
  for (std::string& frame : record.trace) {
    const uint32_t length = Get<uint32_t>(p);
    frame.assign(p + 4, length);
    p += 4 + length;
  }
}

absl::Status DecodeRecordBatch(
    absl::string_view bytes, BatchHeader* header,
    const std::function<void(const Record&)>& on_record) {
  absl::StatusOr<std::shared_ptr<const ValidatedBatch>> batch =
      ValidatedBatch::Copy(bytes);
  if (!batch.ok()) return batch.status();
  *header = (*batch)->header();
  Record record;
  for (size_t i = 0; i < (*batch)->size(); ++i) {
    (*batch)->Decode(i, &record);
    on_record(record);
  }
  return absl::OkStatus();
}

}  // namespace syncstream::proc_internal
