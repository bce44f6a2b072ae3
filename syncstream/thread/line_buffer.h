// LineBuffer: the last N lines written by the threads of one process.
//
// Any thread writes through Write(text) or stream() (a std::ostream), or
// through std::cout / std::cerr once a ScopedRedirect
// (syncstream/core/scoped_redirect.h) installed the buffer, or through
// printf and child programs with a ScopedFdCapture
// (syncstream/core/fd_capture.h). Each thread has its own pending partial
// line; a complete line is stored as one record, atomically, so
// `buffer->stream() << a << b << '\n'` from many threads never mixes lines.
// Line assembly rules (line breaks, control characters, the maximum line
// length) are those of syncstream/core/line_assembler.h.
//
//   absl::StatusOr<std::unique_ptr<LineBuffer>> buffer = LineBuffer::Create(100);
//   if (!buffer.ok()) return buffer.status();   // maxlen 0: InvalidArgument
//   (*buffer)->stream() << "step " << 3 << " done\n";    // any thread
//   for (const Record& r : (*buffer)->Read(10)) std::cout << r << '\n';
//
// It is the C++ counterpart of sync-stream's LineBuffer, with an exact
// Size() and partial lines that are never glued across threads.
//
// Records live in a ShardedRecordStore (syncstream/core/sharded_record_store.h):
// each writing thread appends to a ring of its own, so threads on different
// cores do not slow each other down, and reads merge the rings in an order
// consistent with causality (a line whose Write returned before another
// Write began comes first; each writer's lines keep their order). Each
// line's order key is read once and its timestamp derived from the same
// reading (within 100 us of CLOCK_REALTIME; never decreasing per writer; see
// line_writer.h). Memory:
// up to maxlen records per writing thread, allocated as it writes; the ring
// of a thread that exited is freed once its lines have left the last maxlen.
//
// Thread safety: every method may be called from any thread. Records read
// are copies.
#ifndef SYNCSTREAM_THREAD_LINE_BUFFER_H_
#define SYNCSTREAM_THREAD_LINE_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "syncstream/core/line_assembler.h"
#include "syncstream/core/line_writer.h"
#include "syncstream/core/record.h"
#include "syncstream/core/sharded_record_store.h"

namespace syncstream {

struct LineBufferOptions {
  // Sender name of the first writing thread; the k-th further thread is
  // "NAME.k" (see line_writer.h).
  std::string name = "thread";
  // Type tag stamped on every record ("" for none).
  std::string type;
  // Longest line kept whole; longer lines are cut (see line_assembler.h).
  size_t max_line_length = kDefaultMaxLineLength;
};

class LineBuffer : public LineWriter {
 public:
  // A buffer keeping the last `maxlen` records. `maxlen` must be at least 1:
  // 0 is InvalidArgument.
  static absl::StatusOr<std::unique_ptr<LineBuffer>> Create(
      size_t maxlen, LineBufferOptions options = {});

  // Close()s the buffer. Explicit writers from NewWriter() (and a
  // ScopedFdCapture feeding this buffer) must be destroyed before.
  ~LineBuffer() override;

  // The N of "the last N records".
  size_t maxlen() const { return store_->capacity(); }

  // Every record held, oldest first.
  std::vector<Record> Read() const { return store_->Read(); }
  // The last `n` records held (all of them if fewer), oldest first.
  std::vector<Record> Read(size_t n) const { return store_->Read(n); }
  // The number of records held: min(records stored since Clear(), maxlen).
  // Pending partial lines are not records yet; see PendingLines().
  size_t Size() const { return store_->Size(); }
  // Forgets every record held. Pending partial lines stay pending.
  void Clear() { store_->Clear(); }

  // Followers (tail -f style), see sharded_record_store.h. A cursor marks
  // what a follower has read; end_cursor() is past every record stored so
  // far, a default Cursor() before every record held. ReadFrom returns up to
  // `max_records` records after `from` and sets `*next` to continue from;
  // a follower that keeps up gets every record once. A record is lost to a
  // follower only if its writer stored maxlen more records (or Clear() ran)
  // before the follower read it; `*skipped` (if given) counts those.
  // WaitForAppend waits for a record after `from` (true) or the timeout
  // (false).
  using Cursor = ShardedRecordStore::Cursor;
  Cursor end_cursor() const { return store_->End(); }
  std::vector<Record> ReadFrom(const Cursor& from, size_t max_records,
                               Cursor* next, uint64_t* skipped = nullptr) const {
    return store_->ReadFrom(from, max_records, next, skipped);
  }
  bool WaitForAppend(const Cursor& from, absl::Duration timeout) const;
  // The store behind the methods above, for code generic over stores.
  const ShardedRecordStore& store() const { return *store_; }

  // Stores every writer's pending partial line (of every thread and explicit
  // writer) as a final line, so everything written so far is readable.
  // Idempotent: a second call stores only what was written since. The buffer
  // stays usable. Never fails for a LineBuffer (the status is that of
  // LineWriter's contract).
  absl::Status Close();

 protected:
  absl::Status Publish(const Record& record) override;
  // Copies the line from the writer's bytes straight into the store's slot.
  absl::Status PublishLine(const LineView& line) override;

 private:
  LineBuffer(std::unique_ptr<ShardedRecordStore> store,
             LineWriterOptions options);

  const std::unique_ptr<ShardedRecordStore> store_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_THREAD_LINE_BUFFER_H_
