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
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/proc/line_proc_buffer.h"
#include "syncstream/core/deadline.h"
#include "testing/stress/kind.h"
#include "testing/stress/store_collector.h"

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

  ~ProcSession() override { mirrors_.clear(); }

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
    const absl::Time deadline = DeadlineAfter(timeout);
    // Every mirror closed or seen dead: everything is in the store.
    SYNCSTREAM_RETURN_IF_ERROR(buffer_->Wait(timeout));
    return collector_.Drain(TimeLeft(deadline));
  }

 private:
  ProcSession(std::unique_ptr<LineProcBuffer> buffer,
              std::vector<std::unique_ptr<LineProcMirror>> mirrors,
              LineSink* sink)
      : buffer_(std::move(buffer)),
        mirrors_(std::move(mirrors)),
        collector_("proc", &buffer_->store(), sink, [](const Record& r) {
          return r.is_error() && r.type == "died";  // a worker the run killed
        }) {}

  std::unique_ptr<LineProcBuffer> buffer_;
  std::vector<std::unique_ptr<LineProcMirror>> mirrors_;
  StoreCollector collector_;
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
