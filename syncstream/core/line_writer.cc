#include "syncstream/core/line_writer.h"

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "syncstream/core/internal/biased_lock.h"
#include "syncstream/core/internal/order_clock.h"
#include "syncstream/core/internal/thread_token.h"
#include "syncstream/core/internal/tsc_wall_clock.h"

namespace syncstream {
namespace {

// Ids of LineWriters and of writers (WriterState), never reused.
std::atomic<uint64_t> next_writer_id{1};

// A writer's timestamps never go back by less than this (extrapolation
// error, a small clock adjustment); a larger step back is the system clock
// being set, and is followed.
constexpr int64_t kMaxHeldBackNs = 1'000'000'000;

// The calling thread's last-used LineWriter state: a one-entry cache that makes
// Write() lock-free on its common path. Ids are never reused, so an entry of a
// destroyed LineWriter can never match again.
struct ThreadCache {
  uint64_t owner_id = 0;
  void* state = nullptr;
};
thread_local ThreadCache thread_cache;

}  // namespace

// Threads that exit. Each thread that gets a state in a LineWriter notes the
// writer's anchor in a thread_local list; the list's destructor, run as the
// thread exits, asks each writer still alive to deliver the thread's pending
// partial line and free its state (ReleaseThreadState). The anchor is shared
// by the writer and the lists: the writer clears it (under its mutex) when it
// is destroyed, so an exiting thread never reaches a destroyed writer, and a
// writer being destroyed waits for a thread releasing its state in it.
namespace internal {
struct ThreadExitAnchor {
  void Release(uint64_t thread_token) { writer->ReleaseThreadState(thread_token); }
  std::mutex mu;
  LineWriter* writer = nullptr;  // null once the writer is destroyed
};
}  // namespace internal
using internal::ThreadExitAnchor;

namespace {

class ThreadExitList {
 public:
  ~ThreadExitList() {
    exiting_ = true;
    const uint64_t token = internal::ThisThreadToken();
    for (const std::shared_ptr<ThreadExitAnchor>& anchor : anchors_) {
      std::lock_guard<std::mutex> guard(anchor->mu);
      if (anchor->writer != nullptr) anchor->Release(token);
    }
  }
  // Whether the thread is past the point where its states are released: a
  // state made later (a write from another thread_local's destructor) stays
  // until its writer is destroyed.
  bool exiting() const { return exiting_; }
  void Add(std::shared_ptr<ThreadExitAnchor> anchor) { anchors_.push_back(std::move(anchor)); }

 private:
  bool exiting_ = false;
  std::vector<std::shared_ptr<ThreadExitAnchor>> anchors_;
};

thread_local ThreadExitList thread_exit_list;

}  // namespace

const Record& LineView::record() const {
  Record& record = *scratch_;
  record.kind = RecordKind::kLine;
  record.sequence = sequence_;
  record.timestamp = absl::FromUnixNanos(unix_nanos_);
  record.text.assign(text_.data(), text_.size());
  record.continued = continued_;
  return record;
}

// Cache-line aligned (and so padded): the states of different threads are
// written on every line, and must not share a line (false sharing made the
// uncontended state lock cost as much as a contended one).
struct alignas(64) LineWriter::WriterState {
  WriterState(std::string sender, std::string type, size_t max_line_length)
      : id(next_writer_id.fetch_add(1, std::memory_order_relaxed)),
        assembler(max_line_length) {
    scratch.sender = std::move(sender);
    scratch.type = std::move(type);
  }
  // Taken by the owning writer (the thread, or the explicit Writer's user)
  // on every write, as owner; by CloseAllWriters() and PendingLines() as an
  // other. See internal/biased_lock.h.
  internal::BiasedLock lock;
  const uint64_t id;  // never reused (LineView::writer_id)
  LineAssembler assembler;
  // Holds the sender and type; reused for every line that becomes a Record
  // (LineView::record()).
  Record scratch;
  uint64_t next_sequence = 0;
  // Converts the writer's clock readings to timestamps.
  internal::TscWallClock wall_clock;
  int64_t last_nanos = 0;  // the writer's latest timestamp
  bool wrote = false;
  bool ended = false;  // sent end-of-stream
  // The thread's stream() (thread states only), made on first use: its
  // formatting state is the thread's own.
  std::unique_ptr<std::ostream> stream;
};

// A record's stamp: its order key (0 without Stamping::kWallClockAndOrderKey)
// and its time.
struct LineWriter::Stamp {
  uint64_t order_key = 0;
  int64_t unix_nanos = 0;
};

LineWriter::LineWriter(LineWriterOptions options)
    : LineWriter(std::move(options), Stamping::kWallClock) {}

LineWriter::LineWriter(LineWriterOptions options, Stamping stamping)
    : options_(std::move(options)),
      order_keys_(stamping == Stamping::kWallClockAndOrderKey),
      id_(next_writer_id.fetch_add(1, std::memory_order_relaxed)),
      streambuf_(this),
      exit_anchor_(std::make_shared<ThreadExitAnchor>()) {
  exit_anchor_->writer = this;
}

LineWriter::~LineWriter() {
  {
    // Waits for a thread that is releasing its state here right now.
    std::lock_guard<std::mutex> guard(exit_anchor_->mu);
    exit_anchor_->writer = nullptr;
  }
  if (thread_cache.owner_id == id_) thread_cache = ThreadCache{};
}

inline LineWriter::WriterState* LineWriter::ThreadState() {
  if (__builtin_expect(thread_cache.owner_id == id_, 1)) {
    return static_cast<WriterState*>(thread_cache.state);
  }
  return NewThreadState();
}

// Out of line: keeps the common path above free of the frame this needs.
__attribute__((noinline)) LineWriter::WriterState*
LineWriter::NewThreadState() {
  std::lock_guard<std::mutex> guard(mutex_);
  auto& slot = threads_[internal::ThisThreadToken()];
  if (!slot) {
    const uint64_t ordinal = threads_named_++;
    std::string sender = ordinal == 0
                             ? options_.name
                             : absl::StrCat(options_.name, ".", ordinal);
    slot = std::make_unique<WriterState>(std::move(sender), options_.type,
                                         options_.max_line_length);
    if (ordinal > 0) NoteSecondWriter();
    if (!thread_exit_list.exiting()) thread_exit_list.Add(exit_anchor_);
  }
  thread_cache = ThreadCache{id_, slot.get()};
  return slot.get();
}

void LineWriter::ReleaseThreadState(uint64_t thread_token) {
  std::lock_guard<std::mutex> releasing(release_mutex_);
  std::unique_ptr<WriterState> state;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    auto it = threads_.find(thread_token);
    if (it == threads_.end()) return;
    state = std::move(it->second);
    threads_.erase(it);
  }
  if (thread_cache.owner_id == id_) thread_cache = ThreadCache{};
  // The exiting thread is the state's owner.
  internal::BiasedLock::OwnerGuard guard(state->lock);
  FlushLocked(*state).IgnoreError();
}

std::ostream& LineWriter::stream() {
  WriterState& state = *ThreadState();
  if (state.stream == nullptr) state.stream = std::make_unique<std::ostream>(&streambuf_);
  return *state.stream;
}

inline LineWriter::Stamp LineWriter::StampLocked(WriterState& state) {
  // One clock read: the key (if any), and the time derived from it.
  Stamp stamp;
  if (order_keys_) {
#if defined(__x86_64__)
    if (!uses_tsc_) {
      stamp.order_key = internal::OrderKeyNow();
    } else if (__builtin_expect(
                   !second_writer_.load(std::memory_order_relaxed), 1)) {
      // The only thread that publishes: no record of another thread can
      // precede this one causally, so the key need not wait for this
      // thread's earlier loads (see second_writer_).
      stamp.order_key = __rdtsc();
    } else {
      stamp.order_key = internal::OrderKeyFromTsc();
    }
#else
    stamp.order_key = internal::OrderKeyNow();
#endif
    stamp.unix_nanos = state.wall_clock.NanosAt(stamp.order_key);
  } else {
    stamp.unix_nanos = state.wall_clock.NowNs();
  }
  if (__builtin_expect(stamp.unix_nanos < state.last_nanos, 0) &&
      state.last_nanos - stamp.unix_nanos < kMaxHeldBackNs) {
    stamp.unix_nanos = state.last_nanos;
  }
  state.last_nanos = stamp.unix_nanos;
  return stamp;
}

// Flattened: the line assembly, the stamp and the call to PublishLine
// inlined (about 35 instructions fewer per line than the calls).
__attribute__((flatten)) absl::Status LineWriter::WriteTo(
    WriterState& state, absl::string_view text) {
  internal::BiasedLock::OwnerGuard guard(state.lock);
  absl::Status admitted = AdmitWrite();
  if (!admitted.ok()) {
    FlushLocked(state).IgnoreError();
    return admitted;
  }
  state.wrote = true;
  absl::Status status;
  // With order keys, a text that ends a line (the common write) has the
  // first line's stamp taken before the search for line breaks: the clock
  // read's latency overlaps the search instead of stalling the append.
  Stamp ahead;  // unix_nanos 0: none
  if (order_keys_ && !text.empty() && text.back() == '\n') {
    ahead = StampLocked(state);
  }
  // Without order keys, lines completed by one call share one stamp.
  Stamp shared;
  state.assembler.Append(text, [&](absl::string_view line, bool continued) {
    Stamp stamp;
    if (order_keys_) {
      if (ahead.unix_nanos != 0) {
        stamp = ahead;
        ahead.unix_nanos = 0;
      } else {
        stamp = StampLocked(state);
      }
    } else {
      if (shared.unix_nanos == 0) shared = StampLocked(state);
      stamp = shared;
    }
    absl::Status published = PublishLine(
        LineView(&state.scratch, state.id, state.next_sequence++,
                 stamp.order_key, stamp.unix_nanos, line, continued));
    if (status.ok()) status = std::move(published);
  });
  return status;
}

absl::Status LineWriter::FlushLocked(WriterState& state) {
  absl::Status status;
  state.assembler.Flush([&](absl::string_view line, bool continued) {
    const Stamp stamp = StampLocked(state);
    status = PublishLine(LineView(&state.scratch, state.id,
                                  state.next_sequence++, stamp.order_key,
                                  stamp.unix_nanos, line, continued));
  });
  return status;
}

absl::Status LineWriter::SendRecordLocked(WriterState& state, Record record) {
  absl::Status flushed = FlushLocked(state);
  record.sender = state.scratch.sender;
  if (record.type.empty()) record.type = state.scratch.type;
  record.sequence = state.next_sequence++;
  // The order key, if any, is the store's to take (Publish has none).
  record.timestamp = absl::FromUnixNanos(StampLocked(state).unix_nanos);
  if (record.kind != RecordKind::kLine) record.continued = false;
  if (record.kind == RecordKind::kEndOfStream) state.ended = true;
  state.wrote = true;
  absl::Status published = Publish(record);
  return flushed.ok() ? published : flushed;
}

// Flattened, as WriteTo: the common write is one function.
__attribute__((flatten)) absl::Status LineWriter::Write(
    absl::string_view text) {
  return WriteTo(*ThreadState(), text);
}

absl::Status LineWriter::Flush() {
  WriterState& state = *ThreadState();
  internal::BiasedLock::OwnerGuard guard(state.lock);
  return FlushLocked(state);
}

absl::Status LineWriter::SendEof() {
  WriterState& state = *ThreadState();
  internal::BiasedLock::OwnerGuard guard(state.lock);
  Record record;
  record.kind = RecordKind::kEndOfStream;
  return SendRecordLocked(state, std::move(record));
}

absl::Status LineWriter::SendTrace(RecordKind kind, std::string message) {
  // Skip SendTrace and the public SendError/SendWarning overload.
  Record record = kind == RecordKind::kError
                      ? MakeErrorRecord(message, /*skip_frames=*/2)
                      : MakeWarningRecord(message, /*skip_frames=*/2);
  WriterState& state = *ThreadState();
  internal::BiasedLock::OwnerGuard guard(state.lock);
  return SendRecordLocked(state, std::move(record));
}

absl::Status LineWriter::SendError(const std::exception& error) {
  return SendTrace(RecordKind::kError, DescribeException(error));
}

absl::Status LineWriter::SendError(const absl::Status& error) {
  return SendTrace(RecordKind::kError, DescribeStatus(error));
}

absl::Status LineWriter::SendError(absl::string_view message) {
  return SendTrace(RecordKind::kError, std::string(message));
}

absl::Status LineWriter::SendWarning(absl::string_view message) {
  return SendTrace(RecordKind::kWarning, std::string(message));
}

absl::Status LineWriter::SendError(absl::string_view message,
                                   std::vector<std::string> trace) {
  return SendGivenTrace(RecordKind::kError, message, std::move(trace));
}

absl::Status LineWriter::SendWarning(absl::string_view message,
                                     std::vector<std::string> trace) {
  return SendGivenTrace(RecordKind::kWarning, message, std::move(trace));
}

absl::Status LineWriter::SendGivenTrace(RecordKind kind,
                                        absl::string_view message,
                                        std::vector<std::string> trace) {
  Record record;
  record.kind = kind;
  record.text = std::string(message);
  record.trace = std::move(trace);
  WriterState& state = *ThreadState();
  internal::BiasedLock::OwnerGuard guard(state.lock);
  return SendRecordLocked(state, std::move(record));
}

std::unique_ptr<LineWriter::Writer> LineWriter::NewWriter(std::string sender,
                                                          std::string type) {
  auto state = new WriterState(std::move(sender), std::move(type),
                               options_.max_line_length);
  NoteSecondWriter();
  {
    std::lock_guard<std::mutex> guard(mutex_);
    explicit_writers_.push_back(state);
  }
  return std::unique_ptr<Writer>(new Writer(this, state));
}

size_t LineWriter::thread_writers() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return threads_.size();
}

std::vector<std::pair<std::string, std::string>> LineWriter::PendingLines()
    const {
  std::vector<std::pair<std::string, std::string>> pending;
  std::lock_guard<std::mutex> guard(mutex_);
  auto add = [&](WriterState& state) {
    internal::BiasedLock::OtherGuard state_guard(state.lock);
    if (state.assembler.has_pending()) {
      pending.emplace_back(state.scratch.sender,
                           std::string(state.assembler.pending()));
    }
  };
  for (const auto& entry : threads_) add(*entry.second);
  for (WriterState* state : explicit_writers_) add(*state);
  return pending;
}

absl::Status LineWriter::CloseAllWriters(bool send_eof) {
  // This thread may publish other writers' pending lines.
  NoteSecondWriter();
  std::lock_guard<std::mutex> releasing(release_mutex_);
  std::vector<WriterState*> states;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    for (const auto& entry : threads_) states.push_back(entry.second.get());
    states.insert(states.end(), explicit_writers_.begin(),
                  explicit_writers_.end());
  }
  absl::Status status;
  for (WriterState* state : states) {
    internal::BiasedLock::OtherGuard state_guard(state->lock);
    absl::Status flushed;
    if (send_eof && state->wrote && !state->ended) {
      Record record;
      record.kind = RecordKind::kEndOfStream;
      flushed = SendRecordLocked(*state, std::move(record));
    } else {
      flushed = FlushLocked(*state);
    }
    if (status.ok()) status = std::move(flushed);
  }
  return status;
}

LineWriter::Writer::~Writer() {
  {
    internal::BiasedLock::OwnerGuard guard(state_->lock);
    owner_->FlushLocked(*state_).IgnoreError();
  }
  std::lock_guard<std::mutex> guard(owner_->mutex_);
  auto& writers = owner_->explicit_writers_;
  writers.erase(std::remove(writers.begin(), writers.end(), state_),
                writers.end());
  delete state_;
}

absl::Status LineWriter::Writer::Write(absl::string_view text) {
  return owner_->WriteTo(*state_, text);
}

absl::Status LineWriter::Writer::Flush() {
  internal::BiasedLock::OwnerGuard guard(state_->lock);
  return owner_->FlushLocked(*state_);
}

absl::Status LineWriter::Writer::SendEof() {
  Record record;
  record.kind = RecordKind::kEndOfStream;
  return Send(std::move(record));
}

absl::Status LineWriter::Writer::Send(Record record) {
  internal::BiasedLock::OwnerGuard guard(state_->lock);
  return owner_->SendRecordLocked(*state_, std::move(record));
}

const std::string& LineWriter::Writer::sender() const {
  return state_->scratch.sender;
}

LineWriter::StreamBuf::int_type LineWriter::StreamBuf::overflow(int_type c) {
  if (traits_type::eq_int_type(c, traits_type::eof())) {
    return traits_type::not_eof(c);
  }
  char ch = traits_type::to_char_type(c);
  return owner_->Write(absl::string_view(&ch, 1)).ok() ? c
                                                       : traits_type::eof();
}

std::streamsize LineWriter::StreamBuf::xsputn(const char* s,
                                              std::streamsize n) {
  return owner_->Write(absl::string_view(s, static_cast<size_t>(n))).ok() ? n
                                                                          : 0;
}

}  // namespace syncstream
