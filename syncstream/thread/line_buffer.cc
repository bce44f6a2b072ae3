#include "syncstream/thread/line_buffer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"

namespace syncstream {

absl::StatusOr<std::unique_ptr<LineBuffer>> LineBuffer::Create(
    size_t maxlen, LineBufferOptions options) {
  if (maxlen < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line buffer '", options.name,
        "': maxlen (the number of lines kept) must be at least 1, got ",
        maxlen));
  }
  absl::StatusOr<std::unique_ptr<ShardedRecordStore>> store =
      ShardedRecordStore::Create(maxlen);
  if (!store.ok()) return store.status();
  LineWriterOptions writer_options;
  writer_options.name = std::move(options.name);
  writer_options.type = std::move(options.type);
  writer_options.max_line_length = options.max_line_length;
  return std::unique_ptr<LineBuffer>(
      new LineBuffer(*std::move(store), std::move(writer_options)));
}

LineBuffer::LineBuffer(std::unique_ptr<ShardedRecordStore> store,
                       LineWriterOptions options)
    : LineWriter(std::move(options), Stamping::kWallClockAndOrderKey),
      store_(std::move(store)) {}

LineBuffer::~LineBuffer() { Close().IgnoreError(); }

absl::Status LineBuffer::Close() { return CloseAllWriters(); }

bool LineBuffer::WaitForAppend(const Cursor& from,
                               absl::Duration timeout) const {
  return store_->WaitForAppend(from, DeadlineAfter(timeout));
}

absl::Status LineBuffer::Publish(const Record& record) {
  store_->Append(record);
  return absl::OkStatus();
}

absl::Status LineBuffer::PublishLine(const LineView& line) {
  store_->AppendLine(line);
  return absl::OkStatus();
}

}  // namespace syncstream
