// Stress kind "thread": threads of the harness process write into one
// LineBuffer (syncstream/thread/line_buffer.h) through their own per-thread
// writers. Even workers write each line with one Write() call; odd workers
// split it into two Write() calls at a varying point, so every line passes
// through the thread's pending partial line while other threads complete
// theirs: a glue between threads would show as a glued line.
//
// Threads mode only; threads are never killed. Commit point: Write()
// returned (the line is in the buffer).
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/thread/line_buffer.h"
#include "testing/stress/store_collector.h"
#include "testing/stress/kind.h"

namespace syncstream::stress {
namespace {

class ThreadChannel : public WorkerChannel {
 public:
  ThreadChannel(LineBuffer* buffer, bool split)
      : buffer_(buffer), split_(split) {}

  absl::Status WriteLine(absl::string_view line) override {
    if (!split_) return buffer_->Write(line);
    const size_t cut = 1 + (lines_++ * 7919) % (line.size() - 1);
    SYNCSTREAM_RETURN_IF_ERROR(buffer_->Write(line.substr(0, cut)));
    return buffer_->Write(line.substr(cut));
  }

  absl::Status Close() override { return buffer_->Flush(); }

 private:
  LineBuffer* const buffer_;
  const bool split_;
  uint64_t lines_ = 0;
};

class ThreadSession : public Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Start(
      const SessionSettings& settings) {
    LineBufferOptions options;
    options.name = "thread";
    options.max_line_length = settings.line_length + 1;
    SYNCSTREAM_ASSIGN_OR_RETURN(
        std::unique_ptr<LineBuffer> buffer,
        LineBuffer::Create(settings.buffer_lines, options));
    return std::unique_ptr<Session>(
        new ThreadSession(std::move(buffer), settings.sink));
  }

  absl::StatusOr<std::unique_ptr<WorkerChannel>> OpenChannel(
      int worker) override {
    return std::make_unique<ThreadChannel>(buffer_.get(), worker % 2 == 1);
  }

  absl::Status Drain(absl::Duration timeout) override {
    SYNCSTREAM_RETURN_IF_ERROR(buffer_->Close());
    return collector_.Drain(timeout);
  }

 private:
  ThreadSession(std::unique_ptr<LineBuffer> buffer, LineSink* sink)
      : buffer_(std::move(buffer)), collector_("thread", &buffer_->store(), sink) {}

  std::unique_ptr<LineBuffer> buffer_;
  StoreCollector collector_;
};

class ThreadKind : public Kind {
 public:
  absl::string_view name() const override { return "thread"; }
  absl::string_view description() const override {
    return "threads of one process write into one LineBuffer (half of them "
           "in two pieces per line); commit point: Write() returned";
  }
  bool Supports(SpawnMode mode) const override {
    return mode == SpawnMode::kThreads;
  }
  absl::StatusOr<std::unique_ptr<Session>> StartSession(
      const SessionSettings& settings) override {
    return ThreadSession::Start(settings);
  }
};

SYNCSTREAM_REGISTER_STRESS_KIND(ThreadKind);

}  // namespace
}  // namespace syncstream::stress
