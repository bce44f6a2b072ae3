#include "testing/stress/store_collector.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"

namespace syncstream::stress {
namespace {
constexpr size_t kBatch = 4096;
// Bounds how long Stop() waits for the follower to notice.
constexpr absl::Duration kPollInterval = absl::Milliseconds(20);
}  // namespace

StoreCollector::StoreCollector(std::string name, const RecordStore* store,
                               LineSink* sink, ExpectedRecord expected)
    : name_(std::move(name)),
      store_(store),
      sink_(sink),
      expected_(std::move(expected)),
      next_(store->end_position()) {
  thread_ = std::thread([this] { Follow(); });
}

StoreCollector::~StoreCollector() { Stop(); }

void StoreCollector::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void StoreCollector::Follow() {
  uint64_t from;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    from = next_;
  }
  while (!stop_.load(std::memory_order_acquire)) {
    uint64_t next = from;
    std::vector<Record> batch = store_->ReadFrom(from, kBatch, &next);
    const uint64_t skipped = next - from - batch.size();
    if (skipped > 0) {
      sink_->CollectorError(absl::DataLossError(absl::StrCat(
          name_, ": the buffer evicted ", skipped, " records at positions ",
          from, "..", from + skipped - 1, " before they were checked (buffer of ",
          store_->capacity(), " lines; raise --buffer_lines)")));
    }
    if (expected_) {
      batch.erase(std::remove_if(batch.begin(), batch.end(), expected_),
                  batch.end());
    }
    if (!batch.empty()) sink_->Receive(batch);
    from = next;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      next_ = from;
    }
    caught_up_.notify_all();
    if (next == from) {
      store_->WaitForAppend(from, ::syncstream::Now() + kPollInterval);
    }
  }
}

absl::Status StoreCollector::Drain(absl::Duration timeout) {
  const uint64_t target = store_->end_position();
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
            name_, ": the collector is still ", behind, " records behind after ",
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
