// Stress kind "proc": one LineProcBuffer (syncstream/proc/) in the parent and
// one LineProcMirror per worker; forked workers use their copy of the
// parent's mirror, exec'd workers re-open it from its token. Each line is one
// Write; the mirror batches records into messages of the buffer's
// shared-memory queue (a small 1 MiB queue, so writers wait for space and
// the queue wraps many times). The parent's collector stores records in the
// buffer; a follower thread of this session hands them to the sink.
//
// Kills: supported. Commit point: the mirror sent the batch holding the line
// (LineProcMirror::records_sent()). A killed worker's mirror is reported by
// the buffer as an error record of type "died"; those are expected and not
// passed on as worker errors (every other error record is).
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/proc/line_proc_buffer.h"
#include "testing/stress/kind.h"
#include "syncstream/core/deadline.h"

namespace syncstream::stress {
namespace {

class ProcChannel : public WorkerChannel {
 public:
  // `mirror` is the session's (fork) or `owned` (exec).
  ProcChannel(LineProcMirror* mirror, std::unique_ptr<LineProcMirror> owned)
      : owned_(std::move(owned)), mirror_(owned_ ? owned_.get() : mirror) {}

  absl::Status WriteLine(absl::string_view line) override {
    return mirror_->Write(line);
  }
  uint64_t Committed(uint64_t written) const override {
    return std::min(written, mirror_->records_sent());
  }
  absl::Status Close() override { return mirror_->Close(); }

 private:
  std::unique_ptr<LineProcMirror> owned_;
  LineProcMirror* const mirror_;
};

class ProcSession : public Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Start(
      const SessionSettings& settings) {
    LineProcBufferOptions options;
    options.queue_bytes = 1 << 20;
    options.batch_bytes = 16 * 1024;
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::unique_ptr<LineProcBuffer> buffer,
        LineProcBuffer::Create(settings.buffer_lines, options));
    std::vector<std::unique_ptr<LineProcMirror>> mirrors;
    for (int w = 0; w < settings.workers; ++w) {
      SYNCSTREAM_ASSIGN_OR_RETURN(
          std::unique_ptr<LineProcMirror> mirror,
          buffer->NewMirror(absl::StrCat("worker-", w)));
      mirrors.push_back(std::move(mirror));
    }
    return std::unique_ptr<Session>(
        new ProcSession(std::move(buffer), std::move(mirrors), settings.sink));
  }

  ~ProcSession() override {
    Stop();
    mirrors_.clear();
  }

  absl::Status PrepareWorker(int worker, WorkerLaunch* launch) override {
    launch->token = mirrors_[worker]->token();
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenChannel(
      int worker) override {
    LineProcMirror* mirror = mirrors_[worker].get();
    SYNCSTREAM_RETURN_IF_ERROR(mirror->Open());
    return std::unique_ptr<WorkerChannel>(new ProcChannel(mirror, nullptr));
  }

  absl::Status Drain(absl::Duration timeout) override {
    absl::Time deadline = ::syncstream::Now() + timeout;
    // Every mirror closed or seen dead: everything is in the store.
    SYNCSTREAM_RETURN_IF_ERROR(buffer_->Wait(timeout));
    const uint64_t target = buffer_->store().end_position();
    std::unique_lock<std::mutex> lock(mutex_);
    while (next_ < target) {
      if (caught_up_.wait_until(lock, absl::ToChronoTime(deadline)) ==
              std::cv_status::timeout &&
          next_ < target) {
        return absl::DeadlineExceededError(
            "proc: the follower did not catch up with the buffer");
      }
    }
    return absl::OkStatus();
  }

 private:
  ProcSession(std::unique_ptr<LineProcBuffer> buffer,
              std::vector<std::unique_ptr<LineProcMirror>> mirrors,
              LineSink* sink)
      : buffer_(std::move(buffer)), mirrors_(std::move(mirrors)), sink_(sink) {
    follower_ = std::thread([this] { Follow(); });
  }

  // Hands every record of the store to the sink, in order; a record evicted
  // before it was read is a collector error.
  void Follow() {
    const RecordStore& store = buffer_->store();
    uint64_t from = 0;
    while (!stop_.load()) {
      uint64_t next = from;
      std::vector<Record> batch = store.ReadFrom(from, 4096, &next);
      uint64_t first = next - batch.size();
      if (first != from) {
        sink_->CollectorError(absl::DataLossError(absl::StrCat(
            "proc: ", first - from, " records evicted before they were read "
            "(buffer of ", store.capacity(), "; raise --buffer_lines)")));
      }
      std::vector<Record> forward;
      for (Record& r : batch) {
        if (r.is_error() && r.type == "died") continue;  // a killed worker
        forward.push_back(std::move(r));
      }
      if (!forward.empty()) sink_->Receive(forward);
      {
        std::lock_guard<std::mutex> guard(mutex_);
        next_ = next;
      }
      caught_up_.notify_all();
      from = next;
      if (batch.empty()) {
        store.WaitForAppend(from, ::syncstream::Now() + absl::Milliseconds(20));
      }
    }
  }

  void Stop() {
    stop_.store(true);
    if (follower_.joinable()) follower_.join();
  }

  std::unique_ptr<LineProcBuffer> buffer_;
  std::vector<std::unique_ptr<LineProcMirror>> mirrors_;
  LineSink* const sink_;
  std::mutex mutex_;
  std::condition_variable caught_up_;
  uint64_t next_ = 0;  // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::thread follower_;
};

class ProcKind : public Kind {
 public:
  absl::string_view name() const override { return "proc"; }
  absl::string_view description() const override {
    return "one LineProcBuffer, a LineProcMirror per worker process (forked: "
           "the parent's mirror; exec'd: re-opened from its token), lines "
           "batched into the buffer's shared-memory queue; commit point: the "
           "batch holding the line was sent (records_sent); killed workers "
           "are reported by the buffer as 'died' records";
  }
  bool Supports(SpawnMode mode) const override {
    return mode == SpawnMode::kFork || mode == SpawnMode::kExec;
  }
  bool SupportsKill() const override { return true; }
  absl::StatusOr<std::unique_ptr<Session>> StartSession(
      const SessionSettings& settings) override {
    return ProcSession::Start(settings);
  }
  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenExecChannel(
      int worker, absl::string_view token) override {
    SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<LineProcMirror> mirror,
                                LineProcMirror::Attach(token));
    SYNCSTREAM_RETURN_IF_ERROR(mirror->Open());
    return std::unique_ptr<WorkerChannel>(
        new ProcChannel(nullptr, std::move(mirror)));
  }
};

}  // namespace

SYNCSTREAM_REGISTER_STRESS_KIND(ProcKind);

}  // namespace syncstream::stress
