// StoreCollector: the collector half shared by every kind whose lines end up
// in a record store in this process (thread and fdcapture through a
// LineBuffer's ShardedRecordStore, proc through a LineProcBuffer's
// RecordBlockStore). A thread of its own follows the store (ReadFrom /
// WaitForAppend) and hands each batch to a LineSink, so the store need not
// hold a whole run. Records evicted before the follower read them are
// reported to the sink as a collector error (the run cannot vouch for them);
// size the store with SessionSettings::buffer_lines.
#ifndef SYNCSTREAM_TESTING_STRESS_STORE_COLLECTOR_H_
#define SYNCSTREAM_TESTING_STRESS_STORE_COLLECTOR_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "syncstream/core/record_block_store.h"
#include "syncstream/core/record_store.h"
#include "syncstream/core/sharded_record_store.h"
#include "testing/stress/kind.h"

namespace syncstream::stress {

class StoreCollector {
 public:
  // Records for which `expected` returns true are not passed on (e.g. the
  // error record a buffer writes for a worker the run killed on purpose).
  using ExpectedRecord = std::function<bool(const Record&)>;

  // Follows `store` from its current end; `name` prefixes error messages.
  // `store` and `sink` must outlive the collector.
  StoreCollector(std::string name, const RecordStore* store, LineSink* sink,
                 ExpectedRecord expected = nullptr);
  StoreCollector(std::string name, const RecordBlockStore* store,
                 LineSink* sink, ExpectedRecord expected = nullptr);
  StoreCollector(std::string name, const ShardedRecordStore* store,
                 LineSink* sink, ExpectedRecord expected = nullptr);
  // Stops following (without the guarantee of Drain).
  ~StoreCollector();
  StoreCollector(const StoreCollector&) = delete;
  StoreCollector& operator=(const StoreCollector&) = delete;

  // Hands over every record appended before this call, then stops.
  // DeadlineExceeded if the follower did not catch up within `timeout`.
  absl::Status Drain(absl::Duration timeout);

  // A follower of one kind of store (defined in the .cc).
  class Follower;

 private:
  StoreCollector(std::string name, std::unique_ptr<Follower> follower,
                 LineSink* sink, ExpectedRecord expected);
  void Follow();
  void Stop();

  const std::string name_;
  const std::unique_ptr<Follower> follower_;
  LineSink* const sink_;
  const ExpectedRecord expected_;
  std::mutex mutex_;
  std::condition_variable caught_up_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace syncstream::stress

#endif  // SYNCSTREAM_TESTING_STRESS_STORE_COLLECTOR_H_
