#include "testing/stress/buffer_collector.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"

namespace syncstream::stress {
namespace {
constexpr size_t kBatch = 4096;
// Bounds how long Stop() waits for the follower to notice.
constexpr absl::Duration kPollInterval = absl::Milliseconds(20);
}  // namespace

LineBufferCollector::LineBufferCollector(const LineBuffer* buffer,
                                         LineSink* sink)
    : buffer_(buffer), sink_(sink), next_(buffer->end_position()) {
  thread_ = std::thread([this] { Follow(); });
}

LineBufferCollector::~LineBufferCollector() { Stop(); }

void LineBufferCollector::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void LineBufferCollector::Follow() {
  uint64_t from;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    from = next_;
  }
  while (!stop_.load(std::memory_order_acquire)) {
    uint64_t next = from;
    std::vector<Record> batch = buffer_->ReadFrom(from, kBatch, &next);
    const uint64_t skipped = next - from - batch.size();
    if (skipped > 0) {
      sink_->CollectorError(absl::DataLossError(absl::StrCat(
          "buffer evicted ", skipped, " records at positions ", from, "..",
          from + skipped - 1, " before they were checked (buffer of ",
          buffer_->maxlen(), " lines; raise --buffer_lines)")));
    }
    if (!batch.empty()) sink_->Receive(batch);
    from = next;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      next_ = from;
    }
    caught_up_.notify_all();
    if (batch.empty()) buffer_->WaitForAppend(from, kPollInterval);
  }
}

absl::Status LineBufferCollector::Drain(absl::Duration timeout) {
  const uint64_t target = buffer_->end_position();
  const absl::Time deadline = DeadlineAfter(timeout);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    while (next_ < target) {
      const absl::Duration left = TimeLeft(deadline);
      if (left <= absl::ZeroDuration()) {
        const uint64_t behind = target - next_;
        lock.unlock();
        Stop();
        return absl::DeadlineExceededError(absl::StrCat(
            "buffer collector still ", behind, " records behind after ",
            absl::FormatDuration(timeout)));
      }
      caught_up_.wait_for(lock, absl::ToChronoMilliseconds(
                                    std::min(left, absl::Milliseconds(50))));
    }
  }
  Stop();
  return absl::OkStatus();
}

}  // namespace syncstream::stress
