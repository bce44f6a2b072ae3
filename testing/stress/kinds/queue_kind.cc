// Stress kind "queue": workers (threads, forked children or exec'd programs)
// attach to one shared-memory SyncQueue (syncstream/queue/sync_queue.h) by
// name as writers and append each line as a message; the parent attaches as
// the only reader and hands every message to the sink.
//
// Every worker appends with a blocking Append (the ring is kept small, 256
// KiB, so writers wait for space and the ring wraps many times). Even
// workers append one message per line; odd workers gather four lines and
// append them with one AppendBatch.
//
// Kills: supported. Commit point: Append/AppendBatch returned (the frames are
// committed in shared memory; a message's space is held until the reader
// reads it, even after its writer died). A worker killed between reserving
// and committing leaves an abandoned frame that the reader skips; its
// pending batch is not counted as committed.
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/queue/sync_queue.h"
#include "testing/stress/kind.h"
#include "syncstream/core/deadline.h"

namespace syncstream::stress {
namespace {

constexpr size_t kCapacity = 256 * 1024;
constexpr size_t kBatch = 4;
const AppendOptions kBlocking{.block = true, .timeout = absl::Seconds(60)};

class QueueChannel : public WorkerChannel {
 public:
  QueueChannel(SyncQueue queue, QueueParticipant writer, bool batched)
      : queue_(std::move(queue)), writer_(std::move(writer)), batched_(batched) {}

  absl::Status WriteLine(absl::string_view line) override {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!batched_) {
      SYNCSTREAM_RETURN_IF_ERROR(writer_.Append("line", line, kBlocking));
      ++committed_;
      return absl::OkStatus();
    }
    pending_.emplace_back(line);
    if (pending_.size() == kBatch) return FlushPending();
    return absl::OkStatus();
  }

  uint64_t Committed(uint64_t written) const override { return committed_; }

  absl::Status Close() override {
    SYNCSTREAM_RETURN_IF_ERROR(FlushPending());
    SYNCSTREAM_RETURN_IF_ERROR(writer_.Append("eof", "", kBlocking));
    return writer_.Close(CloseOptions{.keep = true});
  }

 private:
  absl::Status FlushPending() {
    if (pending_.empty()) return absl::OkStatus();
    std::vector<OutgoingMessage> batch;
    for (const std::string& l : pending_) batch.push_back({"line", l});
    SYNCSTREAM_RETURN_IF_ERROR(writer_.AppendBatch(batch, kBlocking));
    committed_ += pending_.size();
    pending_.clear();
    return absl::OkStatus();
  }

  SyncQueue queue_;
  QueueParticipant writer_;
  const bool batched_;
  std::vector<std::string> pending_;
  uint64_t committed_ = 0;
};

absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenWriter(absl::string_view queue_name,
                                                          int worker) {
  SYNCSTREAM_ASSIGN_OR_RETURN(SyncQueue queue, SyncQueue::Open(queue_name));
  SYNCSTREAM_ASSIGN_OR_RETURN(
      QueueParticipant writer,
      queue.Attach(absl::StrCat("worker-", worker), QueueRole::kWriter,
                   AttachOptions{.unlink_on_last_close = false}));
  return std::unique_ptr<WorkerChannel>(
      new QueueChannel(std::move(queue), std::move(writer), worker % 2 == 1));
}

Record ToRecord(const QueueMessageView& m) {
  Record r;
  r.kind = m.type == "eof" ? RecordKind::kEndOfStream : RecordKind::kLine;
  r.sender = std::string(m.sender);
  r.type = std::string(m.type);
  r.sequence = m.sequence;
  r.timestamp = m.timestamp;
  if (r.kind == RecordKind::kLine) r.text = std::string(m.body);
  return r;
}

class QueueSession : public Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Start(const SessionSettings& settings) {
    std::random_device rd;
    const std::string name = absl::StrCat("stress-", getpid(), "-", rd() % 1000000);
    SYNCSTREAM_ASSIGN_OR_RETURN(SyncQueue queue, SyncQueue::Create(name, kCapacity));
    SYNCSTREAM_ASSIGN_OR_RETURN(
        QueueParticipant reader,
        queue.Attach("collector", QueueRole::kReader,
                     AttachOptions{.unlink_on_last_close = false}));
    return std::unique_ptr<Session>(
        new QueueSession(std::move(queue), std::move(reader), settings.sink));
  }

  ~QueueSession() override {
    StopCollector();
    reader_.Close(CloseOptions{.keep = true}).IgnoreError();
    SyncQueue::Remove(queue_.name()).IgnoreError();
  }

  absl::Status PrepareWorker(int worker, WorkerLaunch* launch) override {
    launch->token = queue_.name();
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenChannel(int worker) override {
    return OpenWriter(queue_.name(), worker);
  }

  absl::Status Drain(absl::Duration timeout) override {
    StopCollector();
    // Every worker has ended: read until the queue is empty. Frames reserved
    // by killed workers are skipped once their writers are seen dead.
    const absl::Time deadline = ::syncstream::Now() + timeout;
    for (;;) {
      absl::StatusOr<size_t> n = ReadBatch(absl::Milliseconds(50));
      if (!n.ok()) return n.status();
      if (*n > 0) continue;
      auto snapshot = queue_.Inspect();
      if (!snapshot.ok()) return snapshot.status();
      bool caught_up = true;
      for (const ParticipantInfo& p : snapshot->participants) {
        if (p.name == "collector" && p.lag_bytes != 0) caught_up = false;
      }
      if (caught_up) return absl::OkStatus();
      if (::syncstream::Now() >= deadline) {
        return absl::DeadlineExceededError("queue: the reader did not catch up");
      }
    }
  }

 private:
  QueueSession(SyncQueue queue, QueueParticipant reader, LineSink* sink)
      : queue_(std::move(queue)), reader_(std::move(reader)), sink_(sink) {
    collector_ = std::thread([this] {
      while (!stop_.load()) {
        absl::StatusOr<size_t> n = ReadBatch(absl::Milliseconds(100));
        if (!n.ok()) {
          sink_->CollectorError(n.status());
          return;
        }
      }
    });
  }

  absl::StatusOr<size_t> ReadBatch(absl::Duration timeout) {
    std::vector<Record> batch;
    absl::StatusOr<size_t> n = reader_.ForEachAvailable(
        [&](const QueueMessageView& m) { batch.push_back(ToRecord(m)); }, PopOptions{timeout},
        4096);
    if (!batch.empty()) sink_->Receive(batch);
    return n;
  }

  void StopCollector() {
    stop_.store(true);
    if (collector_.joinable()) collector_.join();
  }

  SyncQueue queue_;
  QueueParticipant reader_;
  LineSink* const sink_;
  std::atomic<bool> stop_{false};
  std::thread collector_;
};

class QueueKind : public Kind {
 public:
  absl::string_view name() const override { return "queue"; }
  absl::string_view description() const override {
    return "workers attach to one shared-memory SyncQueue by name and append each line "
           "(odd workers in batches of 4), the parent is its only reader; commit point: "
           "Append/AppendBatch returned (frames of writers killed mid-append are skipped)";
  }
  bool Supports(SpawnMode mode) const override { return true; }
  bool SupportsKill() const override { return true; }
  absl::StatusOr<std::unique_ptr<Session>> StartSession(
      const SessionSettings& settings) override {
    return QueueSession::Start(settings);
  }
  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenExecChannel(
      int worker, absl::string_view token) override {
    return OpenWriter(token, worker);
  }
};

}  // namespace

SYNCSTREAM_REGISTER_STRESS_KIND(QueueKind);

}  // namespace syncstream::stress
