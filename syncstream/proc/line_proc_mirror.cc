#include "syncstream/proc/line_proc_mirror.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

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
  return options;
}

size_t EncodedSize(const Record& record) {
  size_t size = proc_internal::kRecordHeaderSize + record.sender.size() +
                record.type.size() + record.text.size();
  for (const std::string& frame : record.trace) size += 4 + frame.size();
  return size;
}

}  // namespace

struct LineProcMirror::ProcessState {
  pid_t pid = 0;
  ProcessIdentity identity;
  std::optional<QueueParticipant> participant;
  std::condition_variable flush_cv;
  std::thread flusher;
  bool stop_flusher = false;
  bool closed = false;  // the stream ended in this process
  std::atomic<uint64_t> records_sent{0};
};

LineProcMirror::LineProcMirror(std::shared_ptr<Channel> channel,
                               const MirrorToken& token)
    : LineWriter(WriterOptions(token, *channel)),
      channel_(std::move(channel)),
      generation_(token.generation),
      mirror_id_(token.mirror_id),
      token_(proc_internal::FormatMirrorToken(token)),
      max_body_bytes_(channel_->queue.max_body_bytes(kMaxParticipantName,
                                                     kBatchType.size())) {}

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
  std::unique_lock<std::mutex> lock(mutex_);
  ProcessState* state = process_;
  // A parent's state copied by fork is not ours to destroy (its thread
  // handle names a thread of the parent): it is left as it is.
  if (state == nullptr || state->pid != CachedPid()) return;
  state->stop_flusher = true;
  state->flush_cv.notify_all();
  lock.unlock();
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
  batch_pending_ = false;
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
  batch_pending_ = true;
  batch_started_ = ::syncstream::Now();
  process_ = state.release();
  // Announce this process at once, before anything else can fail (even
  // starting a thread): from now on the buffer can tell if it dies.
  absl::Status announced = SendLocked();
  ProcessState* mine = process_;
  mine->flusher = std::thread([this, mine] { FlusherLoop(mine); });
  return announced;
}

absl::Status LineProcMirror::SendLocked() {
  if (!batch_pending_) return absl::OkStatus();
  uint32_t records = encoder_.record_count();
  const proc_internal::MirrorSettings& settings = channel_->control.settings();
  AppendOptions options;
  options.block = true;
  options.timeout = settings.send_timeout;
  absl::Status sent =
      process_->participant->Append(kBatchType, encoder_.bytes(), options);
  if (sent.ok()) {
    process_->records_sent.fetch_add(records, std::memory_order_release);
  }
  BatchHeader header;
  header.generation = generation_;
  header.mirror_id = mirror_id_;
  header.pid = process_->pid;
  header.start_time = process_->identity.start_time;
  encoder_.Reset(header);
  batch_pending_ = false;
  if (!sent.ok()) {
    return absl::Status(sent.code(),
                        absl::StrCat(Describe(), ": ", records,
                                     " records lost: ", sent.message()));
  }
  return absl::OkStatus();
}

void LineProcMirror::FlusherLoop(ProcessState* state) {
  const absl::Duration interval = channel_->control.settings().flush_interval;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!state->stop_flusher) {
    if (!batch_pending_) {
      state->flush_cv.wait(lock);  // woken by the next record or the owner
      continue;
    }
    absl::Time now = ::syncstream::Now();
    absl::Time due = batch_started_ + interval;
    if (now >= due) {
      absl::Status sent = SendLocked();
      if (!sent.ok() && deferred_error_.ok()) deferred_error_ = sent;
      continue;
    }
    state->flush_cv.wait_for(lock, absl::ToChronoNanoseconds(due - now));
  }
}

absl::Status LineProcMirror::AdmitWrite() {
  if (channel_->control.stopped_through() > generation_) {
    std::lock_guard<std::mutex> guard(mutex_);
    stopped_ = true;
    return absl::FailedPreconditionError(absl::StrCat(
        Describe(), ": stopped by its LineProcBuffer (StopAllMirrors or "
                    "ForceStop); the line written before was delivered"));
  }
  return absl::OkStatus();
}

absl::Status LineProcMirror::Publish(const Record& record) {
  std::lock_guard<std::mutex> guard(mutex_);
  SYNCSTREAM_RETURN_IF_ERROR(EnsureAttachedLocked());
  if (process_->closed) {
    return absl::FailedPreconditionError(absl::StrCat(
        Describe(), ": closed (its end-of-stream or error was sent)"));
  }
  const proc_internal::MirrorSettings& settings = channel_->control.settings();
  const Record* to_add = &record;
  size_t size = EncodedSize(record);
  if (encoder_.record_count() > 0 &&
      encoder_.size() + size > settings.batch_bytes) {
    SYNCSTREAM_RETURN_IF_ERROR(SendLocked());
  }
  Record cut;
  size_t room = max_body_bytes_ - proc_internal::kBatchHeaderSize;
  if (size > room) {  // only an enormous error message or trace
    cut = record;
    cut.trace.clear();
    size_t fixed = EncodedSize(cut) - cut.text.size();
    cut.text.resize(room > fixed ? std::min(cut.text.size(), room - fixed) : 0);
    to_add = &cut;
  }
  if (!batch_pending_) {
    batch_pending_ = true;
    batch_started_ = ::syncstream::Now();
    process_->flush_cv.notify_one();
  }
  encoder_.Add(*to_add);
  bool ends = record.is_end_of_stream() || record.is_error();
  if (ends) {
    process_->closed = true;
    encoder_.AddFlags(proc_internal::kBatchMirrorClosed);
  }
  if (ends || record.is_warning() || encoder_.size() >= settings.batch_bytes ||
      encoder_.record_count() >= settings.batch_records) {
    return SendLocked();
  }
  if (!deferred_error_.ok()) {
    return std::exchange(deferred_error_, absl::OkStatus());
  }
  return absl::OkStatus();
}

absl::Status LineProcMirror::Open() {
  std::lock_guard<std::mutex> guard(mutex_);
  SYNCSTREAM_RETURN_IF_ERROR(EnsureAttachedLocked());
  return SendLocked();
}

absl::Status LineProcMirror::Sync() {
  std::lock_guard<std::mutex> guard(mutex_);
  if (process_ == nullptr || process_->pid != CachedPid()) {
    return absl::OkStatus();
  }
  return SendLocked();
}

bool LineProcMirror::closed() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return process_ != nullptr && process_->pid == CachedPid() &&
         process_->closed;
}

uint64_t LineProcMirror::records_sent() const {
  std::lock_guard<std::mutex> guard(mutex_);
  if (process_ == nullptr || process_->pid != CachedPid()) return 0;
  return process_->records_sent.load(std::memory_order_acquire);
}

absl::Status LineProcMirror::Close() {
  absl::Status flushed = CloseAllWriters(/*send_eof=*/false);
  {
    std::lock_guard<std::mutex> guard(mutex_);
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
