// LineWriter: the writing side shared by every syncstream buffer and mirror.
//
// Text written through a LineWriter is assembled into complete lines (see
// line_assembler.h) per writer and handed, one whole record at a time, to the
// channel underneath (Publish). A "writer" is either
//  - the calling thread: Write(), Flush(), SendEof(), stream() keep one
//    pending partial line per thread, so concurrent
//    `stream() << a << b << '\n'` from many threads never mixes lines; or
//  - an explicit handle from NewWriter(), used where one thread writes on
//    behalf of several sources (fd capture of stdout and stderr, the pipes of
//    a spawned program).
//
// Sender names: the first thread to write is named `options.name`; the k-th
// further thread `name.k`. Each writer numbers its records 0, 1, 2, ...
//
// Threads that exit: a thread's state (its pending partial line, its
// stream()) is freed when the thread exits, its pending partial line first
// delivered as a line, so a LineWriter used by many short-lived threads
// holds only the states of live ones. The LineWriter must not be destroyed
// while a thread is exiting (as it must not while a thread writes).
//
// Subclasses implement Publish() and must call CloseAllWriters() in their
// destructor (or earlier) so that no pending partial line is lost. Lines
// (RecordKind::kLine) reach them through PublishLine(), as a LineView in
// place; its default builds the Record and calls Publish(). A subclass that
// encodes or copies the line anyway overrides PublishLine() and skips that
// copy.
//
// Timestamps: each record carries the time it was completed (LineView
// unix_nanos(), Record::timestamp), within 100 us of CLOCK_REALTIME at that
// moment on every machine (lines completed by one Write() without order
// keys share the time of that Write). A writer's timestamps never decrease
// (a clock that steps back by less than a second is held at the writer's
// last time; a larger step, the system clock being set, is followed).
// Subclasses that merge writers by order keys (a ShardedRecordStore) ask
// for them with Stamping::kWallClockAndOrderKey: each line then also
// carries an order key (internal/order_clock.h), and its timestamp is
// derived from the same clock reading. The clock read is the CPU's TSC
// where it is reliable, clock_gettime elsewhere (internal/tsc.h; the
// environment variable SYNCSTREAM_CLOCK=tsc|clock_gettime overrides).
#ifndef SYNCSTREAM_CORE_LINE_WRITER_H_
#define SYNCSTREAM_CORE_LINE_WRITER_H_

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <ostream>
#include <streambuf>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/core/internal/tsc.h"
#include "syncstream/core/line_assembler.h"
#include "syncstream/core/record.h"

namespace syncstream {
namespace internal {
struct ThreadExitAnchor;  // line_writer.cc
}  // namespace internal

struct LineWriterOptions {
  // Sender name of the first writing thread.
  std::string name = "writer";
  // Type tag stamped on every record ("" for none).
  std::string type;
  // Longest line kept whole; see line_assembler.h.
  size_t max_line_length = kDefaultMaxLineLength;
  // ScopedFdCapture::Create names its writers "NAME/stdout" and
  // "NAME/stderr" (NAME = `name`) instead of "stdout" and "stderr", so that
  // the captures of several writers gathered in one buffer (the mirrors of
  // several children) can be told apart.
  bool name_captured_streams = false;
};

// One complete line of one writer, handed to LineWriter::PublishLine in
// place: the text is the writer's own bytes (or its pending line), valid only
// during the call. The same fields as a Record of kind kLine.
class LineView {
 public:
  const std::string& sender() const { return scratch_->sender; }
  const std::string& type() const { return scratch_->type; }
  // The writer's id: unique in the process and never reused. A writer's
  // sender and type never change, so the id may key a cache of them.
  uint64_t writer_id() const { return writer_id_; }
  uint64_t sequence() const { return sequence_; }
  // The time the line was completed, in Unix nanoseconds.
  int64_t unix_nanos() const { return unix_nanos_; }
  absl::Time timestamp() const { return absl::FromUnixNanos(unix_nanos_); }
  // Without its line break.
  absl::string_view text() const { return text_; }
  // Cut at the maximum line length: the text goes on in the next line.
  bool continued() const { return continued_; }
  // The line's order key (internal/order_clock.h), taken after the Write
  // that completed it began; 0 unless the LineWriter stamps order keys
  // (Stamping::kWallClockAndOrderKey).
  uint64_t order_key() const { return order_key_; }

  // The line as a Record, built in the writer's reused record (its text is
  // copied); valid until the writer's next record.
  const Record& record() const;

 private:
  friend class LineWriter;
  LineView(Record* scratch, uint64_t writer_id, uint64_t sequence,
           uint64_t order_key, int64_t unix_nanos, absl::string_view text,
           bool continued)
      : scratch_(scratch),
        writer_id_(writer_id),
        sequence_(sequence),
        order_key_(order_key),
        unix_nanos_(unix_nanos),
        text_(text),
        continued_(continued) {}

  Record* scratch_;  // holds the writer's sender and type
  uint64_t writer_id_;
  uint64_t sequence_;
  uint64_t order_key_;
  int64_t unix_nanos_;
  absl::string_view text_;
  bool continued_;
};

class LineWriter {
 public:
  class Writer;

  explicit LineWriter(LineWriterOptions options);
  virtual ~LineWriter();
  // (A protected constructor below adds order keys.)
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // --- The calling thread's stream ---------------------------------------
  // Appends text; every line it completes is published.
  absl::Status Write(absl::string_view text);
  // Publishes the pending partial line (if any) as a complete line.
  absl::Status Flush();
  // Flushes, then publishes an end-of-stream record.
  absl::Status SendEof();
  // Flushes, then publishes an error record: the message and the stack trace
  // of the caller (C++ exceptions carry no trace of their own).
  absl::Status SendError(const std::exception& error);
  absl::Status SendError(const absl::Status& error);
  absl::Status SendError(absl::string_view message);
  absl::Status SendWarning(absl::string_view message);
  // The same with a trace the caller already has (an interpreter's
  // traceback, one entry per line) instead of the caller's C++ stack.
  absl::Status SendError(absl::string_view message,
                         std::vector<std::string> trace);
  absl::Status SendWarning(absl::string_view message,
                           std::vector<std::string> trace);
  // The calling thread's std::ostream (unbuffered: each insertion reaches
  // Write at once): each thread has its own, so formatting state (std::hex,
  // precision, width...) set by one thread never changes another's. Valid
  // in the calling thread until it exits. The stream buffer all of them
  // write through, for ScopedRedirect, is safe to use from many threads.
  std::ostream& stream();
  std::streambuf* streambuf() { return &streambuf_; }

  // --- Explicit writers ----------------------------------------------------
  // A writer of its own with the given sender name and type tag, independent
  // of threads. Its pending line is flushed when it is destroyed.
  std::unique_ptr<Writer> NewWriter(std::string sender, std::string type = "");

  // How many threads have a state here: threads that wrote and have not
  // exited.
  size_t thread_writers() const;

  // Every writer's pending partial line, as (sender, text), for writers that
  // have one.
  std::vector<std::pair<std::string, std::string>> PendingLines() const;

  const LineWriterOptions& options() const { return options_; }

 protected:
  // What a line's stamp holds (see "Timestamps" above).
  enum class Stamping {
    kWallClock,             // its time
    kWallClockAndOrderKey,  // its time and an order key (LineView)
  };
  LineWriter(LineWriterOptions options, Stamping stamping);

  // Delivers one complete record of one writer. Records of one writer arrive
  // in sequence order from one thread at a time; different writers call
  // concurrently. A non-OK status is returned to the writing call.
  virtual absl::Status Publish(const Record& record) = 0;
  // Delivers one line assembled from a writer's text (Write, stream(),
  // Flush, and the pending lines CloseAllWriters delivers), under the same
  // rules as Publish and in the same sequence as that writer's other
  // records; records sent whole (SendEof, SendError, SendWarning,
  // Writer::Send) come through Publish. The default calls
  // Publish(line.record()).
  virtual absl::Status PublishLine(const LineView& line) {
    return Publish(line.record());
  }

  // Asked before each text write (Write, stream(), a Writer's Write) of any
  // writer, under that writer's lock. A non-OK status rejects the write: the
  // writer's pending partial line is published first (so nothing written
  // before is lost), then the status is returned and the new text dropped.
  // Flush, SendEof, SendError and SendWarning are not asked. Default: admit.
  virtual absl::Status AdmitWrite() { return absl::OkStatus(); }

  // Flushes every writer's pending partial line. With `send_eof`, also ends
  // every thread writer that has written and not yet sent end-of-stream
  // (threads that exited delivered their line then, and are not ended).
  absl::Status CloseAllWriters(bool send_eof = false);

 private:
  friend class Writer;
  friend struct internal::ThreadExitAnchor;
  struct WriterState;
  struct Stamp;

  WriterState* ThreadState();
  WriterState* NewThreadState();
  // A thread that wrote is exiting: delivers its pending partial line and
  // frees its state (see "Threads that exit" in line_writer.cc).
  void ReleaseThreadState(uint64_t thread_token);
  Stamp StampLocked(WriterState& state);
  absl::Status WriteTo(WriterState& state, absl::string_view text);
  absl::Status FlushLocked(WriterState& state);
  absl::Status SendRecordLocked(WriterState& state, Record record);
  absl::Status SendTrace(RecordKind kind, std::string message);
  absl::Status SendGivenTrace(RecordKind kind, absl::string_view message,
                              std::vector<std::string> trace);

  class StreamBuf : public std::streambuf {
   public:
    explicit StreamBuf(LineWriter* owner) : owner_(owner) {}

   protected:
    int_type overflow(int_type c) override;
    std::streamsize xsputn(const char* s, std::streamsize n) override;

   private:
    LineWriter* owner_;
  };

  const LineWriterOptions options_;
  const bool order_keys_;  // Stamping::kWallClockAndOrderKey
  // Order keys are TSC ticks (internal/tsc.h), read inline.
  const bool uses_tsc_ = internal::UsesTsc();
  // Set (for good) before a second thread may publish records of this
  // writer: a second thread writes, an explicit writer is made, or
  // CloseAllWriters runs. An order key must exceed the keys of records whose
  // publication its thread saw (internal/order_clock.h), which takes a fence
  // before the TSC read (a quarter of a one-line write). While one thread
  // publishes, no record of another thread exists to have been seen, and
  // that thread's own earlier records come first in its shard anyway: keys
  // are read without the fence. A thread that saw another's record saw this
  // flag set before it (the other set it before publishing), so it fences.
  std::atomic<bool> second_writer_{false};
  void NoteSecondWriter() {
    if (!second_writer_.load(std::memory_order_relaxed)) {
      second_writer_.store(true, std::memory_order_seq_cst);
    }
  }
  const uint64_t id_;  // process-unique, never reused
  mutable std::mutex mutex_;  // guards the maps, not the states
  // Held by CloseAllWriters while it flushes states outside mutex_, and by
  // an exiting thread freeing its state: one never frees what the other
  // flushes. Taken before mutex_.
  std::mutex release_mutex_;
  // Keyed by a per-thread token that, unlike std::thread::id, is never
  // reused: a new thread never inherits an exited thread's partial line.
  std::unordered_map<uint64_t, std::unique_ptr<WriterState>> threads_;
  uint64_t threads_named_ = 0;  // thread states made so far (sender names)
  std::vector<WriterState*> explicit_writers_;
  StreamBuf streambuf_;
  // Tells exiting threads whether this writer still exists (line_writer.cc).
  std::shared_ptr<internal::ThreadExitAnchor> exit_anchor_;
};

// An explicit writer (see LineWriter::NewWriter). Not thread-safe by itself:
// one thread at a time.
class LineWriter::Writer {
 public:
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  absl::Status Write(absl::string_view text);
  absl::Status Flush();
  absl::Status SendEof();
  // Publishes an arbitrary record (kind, text, trace, type) as this writer;
  // sender, sequence and time are filled in. Flushes the pending line first.
  absl::Status Send(Record record);
  const std::string& sender() const;

 private:
  friend class LineWriter;
  Writer(LineWriter* owner, WriterState* state)
      : owner_(owner), state_(state) {}
  LineWriter* owner_;
  WriterState* state_;
};

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_LINE_WRITER_H_
