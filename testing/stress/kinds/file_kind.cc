// Stress kind "file": every worker opens its own LineFileBuffer instance on
// one directory (syncstream/file/line_file_buffer.h), as processes on
// different hosts do, each with its own simulated host id; a collector thread
// in the harness follows the directory with a reader instance of its own
// (ReadFrom) and hands what it reads to the sink.
//
// Threads, fork and exec modes; workers may be SIGKILLed, also while they
// hold the lock: the survivors take the lock over once its lease (here
// 300 ms) has expired. Commit point: the record was committed to disk
// (LineFileBuffer::committed_records(); workers commit every 256 lines).
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/file/line_file_buffer.h"
#include "testing/stress/kind.h"

namespace syncstream::stress {
namespace {

constexpr uint64_t kCommitEvery = 256;
constexpr absl::Duration kLease = absl::Milliseconds(300);
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);
constexpr int kFencedAttempts = 8;

file::LineFileBufferOptions BufferOptions(size_t maxlen, int worker) {
  file::LineFileBufferOptions options;
  options.maxlen = maxlen;
  options.lease = kLease;
  options.lock_timeout = absl::Seconds(30);
  options.host_id = worker < 0 ? "stress-collector"
                               : absl::StrCat("stress-host", worker);
  options.writer.name = worker < 0 ? "collector" : absl::StrCat("w", worker);
  return options;
}

class FileChannel : public WorkerChannel {
 public:
  explicit FileChannel(std::unique_ptr<file::LineFileBuffer> buffer)
      : buffer_(std::move(buffer)) {}

  absl::Status WriteLine(absl::string_view line) override {
    SYNCSTREAM_RETURN_IF_ERROR(buffer_->Write(line));
    if (++written_ % kCommitEvery == 0) return CommitAgainIfFenced();
    return absl::OkStatus();
  }
  uint64_t Committed(uint64_t written) const override {
    return std::min<uint64_t>(written, buffer_->committed_records());
  }
  absl::Status Close() override { return CommitAgainIfFenced(); }

 private:
  // Aborted: this worker's lock was taken over while it was paused past its
  // lease, and nothing was written (the records stay queued): commit again,
  // as an application would, instead of ending the worker.
  absl::Status CommitAgainIfFenced() {
    absl::Status status;
    for (int attempt = 0; attempt < kFencedAttempts; ++attempt) {
      status = buffer_->Commit();
      if (!absl::IsAborted(status)) return status;
    }
    return status;
  }

  std::unique_ptr<file::LineFileBuffer> buffer_;
  uint64_t written_ = 0;
};

absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenWorker(
    const std::string& dir, size_t maxlen, int worker) {
  SYNCSTREAM_ASSIGN_OR_RETURN(
      std::unique_ptr<file::LineFileBuffer> buffer,
      file::LineFileBuffer::Open(dir, BufferOptions(maxlen, worker)));
  return std::unique_ptr<WorkerChannel>(new FileChannel(std::move(buffer)));
}

class FileSession : public Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Start(
      const SessionSettings& settings) {
    const std::string dir = settings.scratch_dir + "/file-buffer";
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::unique_ptr<file::LineFileBuffer> reader,
        file::LineFileBuffer::Open(dir,
                                   BufferOptions(settings.buffer_lines, -1)));
    return std::unique_ptr<Session>(
        new FileSession(dir, settings, std::move(reader)));
  }

  ~FileSession() override { StopFollower(); }

  absl::Status PrepareWorker(int worker, WorkerLaunch* launch) override {
    launch->token = absl::StrCat(maxlen_, ":", dir_);
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenChannel(
      int worker) override {
    return OpenWorker(dir_, maxlen_, worker);
  }

  absl::Status Drain(absl::Duration timeout) override {
    // Every worker has ended: what is on disk now is final.
    StopFollower();
    const absl::Time deadline = DeadlineAfter(timeout);
    while (true) {
      absl::Status read = ReadMore();
      if (read.ok()) return absl::OkStatus();
      if (::syncstream::Now() >= deadline) return read;
      absl::SleepFor(kPollInterval);
    }
  }

 private:
  FileSession(std::string dir, const SessionSettings& settings,
              std::unique_ptr<file::LineFileBuffer> reader)
      : dir_(std::move(dir)),
        maxlen_(settings.buffer_lines),
        sink_(settings.sink),
        reader_(std::move(reader)) {
    follower_ = std::thread([this] {
      while (!stop_.load(std::memory_order_acquire)) {
        absl::Status read = ReadMore();
        if (!read.ok()) return;
        absl::SleepFor(kPollInterval);
      }
    });
  }

  void StopFollower() {
    stop_.store(true, std::memory_order_release);
    if (follower_.joinable()) follower_.join();
  }

  // Reads what was committed since the last call and hands it over.
  absl::Status ReadMore() {
    uint64_t next = next_;
    file::ReadReport report;
    absl::StatusOr<std::vector<Record>> records =
        reader_->ReadFrom(next_, &next, &report);
    if (!records.ok()) return records.status();
    for (const auto& damage : report.damages) {
      sink_->CollectorError(absl::DataLossError(
          absl::StrCat("segment ", damage.segment, ": ", damage.damage.cause)));
    }
    for (const std::string& unreadable : report.unreadable_segments) {
      sink_->CollectorError(absl::DataLossError(
          absl::StrCat("unreadable segment ", unreadable)));
    }
    if (report.rotated_away > 0) {
      sink_->CollectorError(absl::DataLossError(absl::StrCat(
          "file buffer rotated away ", report.rotated_away,
          " records at indexes ", next_,
          ".. before they were read (raise --buffer_lines)")));
    }
    if (!records->empty()) sink_->Receive(*records);
    next_ = next;
    return absl::OkStatus();
  }

  const std::string dir_;
  const size_t maxlen_;
  LineSink* const sink_;
  std::unique_ptr<file::LineFileBuffer> reader_;
  uint64_t next_ = 0;  // used by the follower, then (after it stopped) Drain
  std::atomic<bool> stop_{false};
  std::thread follower_;
};

class FileKind : public Kind {
 public:
  absl::string_view name() const override { return "file"; }
  absl::string_view description() const override {
    return "each worker has its own LineFileBuffer instance (its own "
           "simulated host) on one directory; a reader instance follows it. "
           "Workers may be killed while holding the lock (lease 300 ms); "
           "one fenced after pausing past its lease commits again. "
           "Commit point: the line's batch was committed to disk (every 256 "
           "lines)";
  }
  bool Supports(SpawnMode mode) const override { return true; }
  bool SupportsKill() const override { return true; }
  absl::StatusOr<std::unique_ptr<Session>> StartSession(
      const SessionSettings& settings) override {
    return FileSession::Start(settings);
  }
  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenExecChannel(
      int worker, absl::string_view token) override {
    const size_t colon = token.find(':');
    size_t maxlen = 0;
    if (colon == absl::string_view::npos ||
        !absl::SimpleAtoi(token.substr(0, colon), &maxlen)) {
      return absl::InvalidArgumentError(
          absl::StrCat("file kind: bad worker token '", token, "'"));
    }
    return OpenWorker(std::string(token.substr(colon + 1)), maxlen, worker);
  }
};

SYNCSTREAM_REGISTER_STRESS_KIND(FileKind);

}  // namespace
}  // namespace syncstream::stress
