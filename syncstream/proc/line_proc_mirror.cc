#include "syncstream/proc/line_proc_mirror.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "syncstream/core/process_identity.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/proc/internal/channel.h"
#include "syncstream/core/deadline.h"

namespace syncstream {

using proc_internal::BatchHeader;
using proc_internal::Channel;
using proc_internal::MirrorToken;

namespace {

// The queue message type of a batch.
constexpr absl::string_view kBatchType = "b";
// Participant names are at most 63 bytes: "NAME[PID]" with NAME cut.
constexpr size_t kMaxParticipantName = 63;

LineWriterOptions WriterOptions(const MirrorToken& token,
                                const Channel& channel) {
  LineWriterOptions options;
  options.name = token.mirror_name;
  options.max_line_length = channel.control.settings().max_line_length;
  // Captures in different children are told apart: "worker-1/stdout".
  options.name_captured_streams = true;
  return options;
}

int64_t NowNanos() { return absl::ToUnixNanos(::syncstream::Now()); }

// How soon the timer thread tries again when a writer held the lock or the
// queue was full.
constexpr std::chrono::milliseconds kFlusherRetry(1);

}  // namespace

struct LineProcMirror::ProcessState {
  pid_t pid = 0;
  ProcessIdentity identity;
  std::optional<QueueParticipant> participant;
  bool closed = false;  // the stream ended in this process (under lock_)
  std::atomic<uint64_t> records_sent{0};
  // The timer thread. It sleeps on flusher_cv under flusher_mutex; while a
  // batch is pending it wakes at most once per flush_interval, and with
  // nothing pending it sleeps until the record that starts the next batch
  // wakes it (only then, announced by `flusher_idle`: writers do not touch
  // the mutex otherwise).
  std::thread flusher;
  std::mutex flusher_mutex;
  std::condition_variable flusher_cv;
  bool stop_flusher = false;               // under flusher_mutex
  std::atomic<bool> flusher_idle{false};
};

LineProcMirror::LineProcMirror(std::shared_ptr<Channel> channel,
                               const MirrorToken& token)
    : LineWriter(WriterOptions(token, *channel)),
      channel_(std::move(channel)),
      generation_(token.generation),
      mirror_id_(token.mirror_id),
      token_(proc_internal::FormatMirrorToken(token)),
      max_body_bytes_(channel_->queue.max_body_bytes(kMaxParticipantName,
                                                     kBatchType.size())),
      batch_bytes_(channel_->control.settings().batch_bytes),
      batch_records_(channel_->control.settings().batch_records),
      stopped_through_(channel_->control.stopped_through_word()) {}

absl::StatusOr<std::unique_ptr<LineProcMirror>> LineProcMirror::Attach(
    absl::string_view token_text) {
  SYNCSTREAM_ASSIGN_OR_RETURN(MirrorToken token,
                              proc_internal::ParseMirrorToken(token_text));
  auto fail = [&](const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat("mirror '", token.mirror_name,
                                     "': cannot attach: ", status.message()));
  };
  absl::StatusOr<SyncQueue> queue = SyncQueue::Open(token.queue_name);
  if (!queue.ok()) return fail(queue.status());
  size_t max_body = queue->max_body_bytes(kMaxParticipantName, kBatchType.size());
  absl::StatusOr<proc_internal::ControlBlock> control =
      proc_internal::ControlBlock::Open(token.queue_name, max_body);
  if (!control.ok()) return fail(control.status());
  auto channel = std::make_shared<Channel>(
      Channel{*std::move(queue), *std::move(control)});
  return std::unique_ptr<LineProcMirror>(
      new LineProcMirror(std::move(channel), token));
}

absl::StatusOr<std::unique_ptr<LineProcMirror>>
LineProcMirror::FromEnvironment() {
  const char* token = std::getenv(kEnvironmentVariable);
  if (token == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "LineProcMirror::FromEnvironment: ", kEnvironmentVariable,
        " is not set (was this process started with the mirror's "
        "EnvironmentEntry()?)"));
  }
  return Attach(token);
}

LineProcMirror::~LineProcMirror() {
  Close().IgnoreError();
  ProcessState* state;
  {
    internal::ThreadBiasedLock::Guard guard(lock_);
    state = process_;
  }
  // A parent's state copied by fork is not ours to destroy (its thread
  // handle names a thread of the parent): it is left as it is.
  if (state == nullptr || state->pid != CachedPid()) return;
  {
    std::lock_guard<std::mutex> guard(state->flusher_mutex);
    state->stop_flusher = true;
  }
  state->flusher_cv.notify_all();
  state->flusher.join();
  delete state;  // closes the queue participant
}

std::string LineProcMirror::Describe() const {
  return absl::StrCat("mirror '", name(), "'");
}

absl::Status LineProcMirror::EnsureAttachedLocked() {
  pid_t pid = CachedPid();
  if (process_ != nullptr && process_->pid == pid) return absl::OkStatus();
  // First use in this process. A state copied from the parent by fork is
  // abandoned (see the destructor), with whatever it had batched: the parent
  // sends its own batches.
  process_ = nullptr;
  open_pid_ = 0;
  // The thread that attaches (Open, or the first write) owns lock_ in this
  // process from its next entry on. A forked child's thread may hold lock_
  // as owner now (it kept the token of the parent's thread that forked);
  // either way it is the only thread of the child yet.
  lock_.SetOwnerToThisThread();
  batch_started_ns_.store(0, std::memory_order_relaxed);
  stopped_ = false;
  deferred_error_ = absl::OkStatus();

  auto state = std::make_unique<ProcessState>();
  state->pid = pid;
  state->identity = CurrentProcess();
  std::string participant =
      absl::StrCat("[", pid, "]");
  participant.insert(0, name().substr(
                            0, kMaxParticipantName - participant.size()));
  absl::StatusOr<QueueParticipant> attached =
      channel_->queue.Attach(participant, QueueRole::kWriter);
  if (!attached.ok()) {
    return absl::Status(attached.status().code(),
                        absl::StrCat(Describe(), ": cannot attach to its queue: ",
                                     attached.status().message()));
  }
  state->participant.emplace(*std::move(attached));
  BatchHeader header;
  header.generation = generation_;
  header.mirror_id = mirror_id_;
  header.flags = proc_internal::kBatchHello;
  header.pid = pid;
  header.start_time = state->identity.start_time;
  encoder_.Reset(header);
  batch_started_ns_.store(NowNanos(), std::memory_order_relaxed);
  process_ = state.release();
  open_pid_ = pid;
  // Announce this process at once, before anything else can fail (even
  // starting a thread): from now on the buffer can tell if it dies.
  absl::Status announced = SendLocked();
  ProcessState* mine = process_;
  mine->flusher = std::thread([this, mine] { FlusherLoop(mine); });
  return announced;
}

absl::Status LineProcMirror::SendLocked(bool wait_for_space) {
  if (batch_started_ns_.load(std::memory_order_relaxed) == 0) {
    return absl::OkStatus();
  }
  uint32_t records = encoder_.record_count();
  AppendOptions options;
  options.block = wait_for_space;
  options.timeout = channel_->control.settings().send_timeout;
  absl::Status sent =
      process_->participant->Append(kBatchType, encoder_.bytes(), options);
  if (!wait_for_space && absl::IsResourceExhausted(sent)) {
    return sent;  // the batch stays, for a later try
  }
  if (sent.ok()) {
    process_->records_sent.fetch_add(records, std::memory_order_release);
  }
  BatchHeader header;
  header.generation = generation_;
  header.mirror_id = mirror_id_;
  header.pid = process_->pid;
  header.start_time = process_->identity.start_time;
  encoder_.Reset(header);
  batch_started_ns_.store(0, std::memory_order_relaxed);
  if (!sent.ok()) {
    return absl::Status(sent.code(),
                        absl::StrCat(Describe(), ": ", records,
                                     " records lost: ", sent.message()));
  }
  return absl::OkStatus();
}

void LineProcMirror::FlusherLoop(ProcessState* state) {
  const int64_t interval =
      absl::ToInt64Nanoseconds(channel_->control.settings().flush_interval);
  std::unique_lock<std::mutex> lock(state->flusher_mutex);
  while (!state->stop_flusher) {
    int64_t started = batch_started_ns_.load(std::memory_order_acquire);
    if (started == 0) {
      // Announce the sleep, then look again (pairs with Publish: either it
      // sees the announcement or we see its batch).
      state->flusher_idle.store(true, std::memory_order_seq_cst);
      if (batch_started_ns_.load(std::memory_order_seq_cst) == 0) {
        state->flusher_cv.wait(lock);
      }
      state->flusher_idle.store(false, std::memory_order_relaxed);
      continue;
    }
    const int64_t now = NowNanos();
    if (now < started + interval) {
      state->flusher_cv.wait_for(
          lock, std::chrono::nanoseconds(started + interval - now));
      continue;
    }
    lock.unlock();
    // A writer holding the lock is publishing (and sends the batch itself
    // once it is full): the timer thread does not queue up behind it (a
    // spinning timer thread takes the CPU from it, and the writer may hold
    // the lock for long, waiting for queue space); it looks again shortly.
    // Likewise it does not wait for queue space while holding the lock: with
    // the queue full it leaves the batch and tries again.
    bool retry = true;
    if (lock_.lock().TryLockAsOther()) {
      started = batch_started_ns_.load(std::memory_order_relaxed);
      retry = false;
      if (started != 0 && now >= started + interval) {
        absl::Status sent = SendLocked(/*wait_for_space=*/false);
        retry = absl::IsResourceExhausted(sent);
        if (!sent.ok() && !retry && deferred_error_.ok()) {
          deferred_error_ = sent;
        }
      }
      lock_.lock().UnlockAsOther();
    }
    lock.lock();
    if (retry && !state->stop_flusher) {
      state->flusher_cv.wait_for(lock, kFlusherRetry);
    }
  }
}

absl::Status LineProcMirror::AdmitWrite() {
  if (stopped_through_.load(std::memory_order_acquire) > generation_) {
    internal::ThreadBiasedLock::Guard guard(lock_);
    stopped_ = true;
    return absl::FailedPreconditionError(absl::StrCat(
        Describe(), ": stopped by its LineProcBuffer (StopAllMirrors or "
                    "ForceStop); the line written before was delivered"));
  }
  return absl::OkStatus();
}

// Inline: on almost every line the stream is open in this process (open_pid_
// says so in one test), its batch is started and has room, and nothing is
// left to do.
inline absl::Status LineProcMirror::PrepareToAddLocked(size_t size) {
  if (ABSL_PREDICT_TRUE(open_pid_ == CachedPid() &&
                        batch_started_ns_.load(std::memory_order_relaxed) !=
                            0 &&
                        encoder_.size() + size <= batch_bytes_)) {
    return absl::OkStatus();
  }
  return PrepareToAddSlowLocked(size);
}

absl::Status LineProcMirror::PrepareToAddSlowLocked(size_t size) {
  if (process_ == nullptr || process_->pid != CachedPid()) {
    SYNCSTREAM_RETURN_IF_ERROR(EnsureAttachedLocked());
  }
  if (process_->closed) {
    return absl::FailedPreconditionError(absl::StrCat(
        Describe(), ": closed (its end-of-stream or error was sent)"));
  }
  if (encoder_.record_count() > 0 && encoder_.size() + size > batch_bytes_) {
    SYNCSTREAM_RETURN_IF_ERROR(SendLocked());
  }
  if (batch_started_ns_.load(std::memory_order_relaxed) == 0) {
    batch_started_ns_.store(NowNanos(), std::memory_order_seq_cst);
    if (process_->flusher_idle.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> flusher(process_->flusher_mutex);
      process_->flusher_cv.notify_one();
    }
  }
  return absl::OkStatus();
}

inline absl::Status LineProcMirror::FinishLineLocked() {
  if (ABSL_PREDICT_FALSE(encoder_.size() >= batch_bytes_ ||
                         encoder_.record_count() >= batch_records_)) {
    return SendLocked();
  }
  if (ABSL_PREDICT_FALSE(!deferred_error_.ok())) {
    return std::exchange(deferred_error_, absl::OkStatus());
  }
  return absl::OkStatus();
}

absl::Status LineProcMirror::PublishLine(const LineView& line) {
  const size_t size = proc_internal::RecordBatchEncoder::PlainLineSize(
      line.sender().size(), line.type().size(), line.text().size());
  internal::ThreadBiasedLock::Guard guard(lock_);
  if (ABSL_PREDICT_FALSE(size == 0 || size > max_body_bytes_ -
                                                 proc_internal::kBatchHeaderSize)) {
    return PublishLocked(line.record());  // cut to fit
  }
  // The path of every line: encoded from the writer's bytes in place
  // (PrepareToAddLocked and FinishLineLocked are one test each, inline).
  SYNCSTREAM_RETURN_IF_ERROR(PrepareToAddLocked(size));
  encoder_.AddLine(line.sender(), line.type(), line.sequence(),
                   line.unix_nanos(), line.text(), line.continued());
  return FinishLineLocked();
}

absl::Status LineProcMirror::Publish(const Record& record) {
  internal::ThreadBiasedLock::Guard guard(lock_);
  return PublishLocked(record);
}

absl::Status LineProcMirror::PublishLocked(const Record& record) {
  const Record* to_add = &record;
  size_t size = proc_internal::RecordBatchEncoder::EncodedSize(record);
  Record cut;
  size_t room = max_body_bytes_ - proc_internal::kBatchHeaderSize;
  if (size > room) {  // an enormous error message or trace, or a huge line
    cut = record;
    cut.trace.clear();
    size_t fixed =
        proc_internal::RecordBatchEncoder::EncodedSize(cut) - cut.text.size();
    cut.text.resize(room > fixed ? std::min(cut.text.size(), room - fixed) : 0);
    to_add = &cut;
    size = proc_internal::RecordBatchEncoder::EncodedSize(cut);
  }
  SYNCSTREAM_RETURN_IF_ERROR(PrepareToAddLocked(size));
  encoder_.Add(*to_add);
  const bool ends = record.is_end_of_stream() || record.is_error();
  if (ends) {
    process_->closed = true;
    open_pid_ = 0;
    encoder_.AddFlags(proc_internal::kBatchMirrorClosed);
  }
  if (ends || record.is_warning()) return SendLocked();
  return FinishLineLocked();
}

absl::Status LineProcMirror::Open() {
  internal::ThreadBiasedLock::Guard guard(lock_);
  SYNCSTREAM_RETURN_IF_ERROR(EnsureAttachedLocked());
  return SendLocked();
}

absl::Status LineProcMirror::Sync() {
  internal::ThreadBiasedLock::Guard guard(lock_);
  if (process_ == nullptr || process_->pid != CachedPid()) {
    return absl::OkStatus();
  }
  return SendLocked();
}

bool LineProcMirror::closed() const {
  internal::ThreadBiasedLock::Guard guard(lock_);
  return process_ != nullptr && process_->pid == CachedPid() &&
         process_->closed;
}

uint64_t LineProcMirror::records_sent() const {
  internal::ThreadBiasedLock::Guard guard(lock_);
  if (process_ == nullptr || process_->pid != CachedPid()) return 0;
  return process_->records_sent.load(std::memory_order_acquire);
}

absl::Status LineProcMirror::Close() {
  absl::Status flushed = CloseAllWriters(/*send_eof=*/false);
  {
    internal::ThreadBiasedLock::Guard guard(lock_);
    if (process_ == nullptr || process_->pid != CachedPid()) {
      return absl::OkStatus();  // never used in this process
    }
    if (process_->closed) {
      absl::Status sent = SendLocked();
      return flushed.ok() ? sent : flushed;
    }
  }
  absl::Status ended = SendEof();
  return flushed.ok() ? ended : flushed;
}

absl::Status RunInMirror(LineProcMirror& mirror,
                         const std::function<void()>& fn) {
  SYNCSTREAM_RETURN_IF_ERROR(mirror.Open());
  try {
    fn();
  } catch (const std::exception& e) {
    mirror.SendError(e).IgnoreError();
    return absl::AbortedError(DescribeException(e));
  } catch (...) {
    const char* what = "an exception that is not a std::exception";
    mirror.SendError(absl::string_view(what)).IgnoreError();
    return absl::AbortedError(what);
  }
  return mirror.Close();
}

MirrorScope::MirrorScope(LineProcMirror& mirror)
    : mirror_(mirror), uncaught_(std::uncaught_exceptions()) {
  mirror_.Open().IgnoreError();
}

MirrorScope::~MirrorScope() {
  if (std::uncaught_exceptions() > uncaught_) {
    mirror_.SendError(absl::string_view("scope left by an exception"))
        .IgnoreError();
  } else {
    mirror_.Close().IgnoreError();
  }
}

}  // namespace syncstream
