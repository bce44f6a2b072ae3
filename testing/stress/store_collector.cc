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

// Where the follower is in its store, and the target of a Drain. Read()
// and Wait() are called by the follower thread only; the target methods by
// any thread (guarded by the collector's mutex, which the follower holds
// while it moves on in Read()).
class StoreCollector::Follower {
 public:
  virtual ~Follower() = default;
  // The next batch; `*skipped` receives the number of records evicted
  // before they could be read. Holds `progress_mutex` while moving on.
  virtual std::vector<Record> Read(size_t max_records, uint64_t* skipped,
                                   std::mutex* progress_mutex) = 0;
  virtual void Wait(absl::Time deadline) = 0;
  // Under the progress mutex: takes the store's current end as the target,
  // and tells how far behind it the follower is (0: caught up).
  virtual void MarkTarget() = 0;
  virtual uint64_t BehindTarget() const = 0;
  virtual size_t capacity() const = 0;
};

namespace {

// A follower of a store with positions (RecordStore, RecordBlockStore).
template <typename Store>
class PositionFollower : public StoreCollector::Follower {
 public:
  explicit PositionFollower(const Store* store)
      : store_(store), next_(store->end_position()) {}
  std::vector<Record> Read(size_t max_records, uint64_t* skipped,
                           std::mutex* progress_mutex) override {
    uint64_t next = next_;
    std::vector<Record> batch = store_->ReadFrom(next_, max_records, &next);
    *skipped = next - next_ - batch.size();
    std::lock_guard<std::mutex> lock(*progress_mutex);
    next_ = next;
    return batch;
  }
  void Wait(absl::Time deadline) override {
    store_->WaitForAppend(next_, deadline);
  }
  void MarkTarget() override { target_ = store_->end_position(); }
  uint64_t BehindTarget() const override {
    return target_ > next_ ? target_ - next_ : 0;
  }
  size_t capacity() const override { return store_->capacity(); }

 private:
  const Store* const store_;
  uint64_t next_;
  uint64_t target_ = 0;
};

class ShardedStoreFollower : public StoreCollector::Follower {
 public:
  explicit ShardedStoreFollower(const ShardedRecordStore* store)
      : store_(store), next_(store->End()) {}
  std::vector<Record> Read(size_t max_records, uint64_t* skipped,
                           std::mutex* progress_mutex) override {
    ShardedRecordStore::Cursor next;
    std::vector<Record> batch =
        store_->ReadFrom(next_, max_records, &next, skipped);
    std::lock_guard<std::mutex> lock(*progress_mutex);
    next_ = std::move(next);
    return batch;
  }
  void Wait(absl::Time deadline) override {
    store_->WaitForAppend(next_, deadline);
  }
  void MarkTarget() override { target_ = store_->End(); }
  uint64_t BehindTarget() const override {
    if (next_.Covers(target_)) return 0;
    return std::max<uint64_t>(1, next_.Behind(target_));
  }
  size_t capacity() const override { return store_->capacity(); }

 private:
  const ShardedRecordStore* const store_;
  ShardedRecordStore::Cursor next_;
  ShardedRecordStore::Cursor target_;
};

}  // namespace

StoreCollector::StoreCollector(std::string name, const RecordStore* store,
                               LineSink* sink, ExpectedRecord expected)
    : StoreCollector(std::move(name),
                     std::make_unique<PositionFollower<RecordStore>>(store),
                     sink, std::move(expected)) {}

StoreCollector::StoreCollector(std::string name, const RecordBlockStore* store,
                               LineSink* sink, ExpectedRecord expected)
    : StoreCollector(
          std::move(name),
          std::make_unique<PositionFollower<RecordBlockStore>>(store), sink,
          std::move(expected)) {}

StoreCollector::StoreCollector(std::string name,
                               const ShardedRecordStore* store, LineSink* sink,
                               ExpectedRecord expected)
    : StoreCollector(std::move(name),
                     std::make_unique<ShardedStoreFollower>(store), sink,
                     std::move(expected)) {}

StoreCollector::StoreCollector(std::string name,
                               std::unique_ptr<Follower> follower,
                               LineSink* sink, ExpectedRecord expected)
    : name_(std::move(name)),
      follower_(std::move(follower)),
      sink_(sink),
      expected_(std::move(expected)) {
  thread_ = std::thread([this] { Follow(); });
}

StoreCollector::~StoreCollector() { Stop(); }

void StoreCollector::Stop() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void StoreCollector::Follow() {
  while (!stop_.load(std::memory_order_acquire)) {
    uint64_t skipped = 0;
    std::vector<Record> batch = follower_->Read(kBatch, &skipped, &mutex_);
    if (skipped > 0) {
      sink_->CollectorError(absl::DataLossError(absl::StrCat(
          name_, ": the buffer evicted ", skipped,
          " records before they were checked (buffer of ",
          follower_->capacity(), " lines; raise --buffer_lines)")));
    }
    const bool read_something = !batch.empty() || skipped > 0;
    if (expected_) {
      batch.erase(std::remove_if(batch.begin(), batch.end(), expected_),
                  batch.end());
    }
    if (!batch.empty()) sink_->Receive(batch);
    caught_up_.notify_all();
    if (!read_something) {
      follower_->Wait(::syncstream::Now() + kPollInterval);
    }
  }
}

absl::Status StoreCollector::Drain(absl::Duration timeout) {
  const absl::Time deadline = DeadlineAfter(timeout);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    follower_->MarkTarget();
    while (follower_->BehindTarget() > 0) {
      const absl::Duration left = TimeLeft(deadline);
      if (left <= absl::ZeroDuration()) {
        const uint64_t behind = follower_->BehindTarget();
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
