// LineBufferCollector: the collector half shared by every kind whose lines
// end up in a LineBuffer (thread, fdcapture, and the proc kinds built on the
// same writing side). A thread of its own follows the buffer (ReadFrom /
// WaitForAppend) and hands each batch to a LineSink, so the buffer need not
// hold a whole run. Records evicted before the follower read them are
// reported to the sink as a collector error (the run cannot vouch for them);
// size the buffer with SessionSettings::buffer_lines.
#ifndef SYNCSTREAM_TESTING_STRESS_BUFFER_COLLECTOR_H_
#define SYNCSTREAM_TESTING_STRESS_BUFFER_COLLECTOR_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "syncstream/thread/line_buffer.h"
#include "testing/stress/kind.h"

namespace syncstream::stress {

class LineBufferCollector {
 public:
  // Follows `buffer` from its current end. Both must outlive the collector.
  LineBufferCollector(const LineBuffer* buffer, LineSink* sink);
  // Stops following (without the guarantee of Drain).
  ~LineBufferCollector();
  LineBufferCollector(const LineBufferCollector&) = delete;
  LineBufferCollector& operator=(const LineBufferCollector&) = delete;

  // Hands over every record appended before this call, then stops.
  // DeadlineExceeded if the follower did not catch up within `timeout`.
  absl::Status Drain(absl::Duration timeout);

 private:
  void Follow();
  void Stop();

  const LineBuffer* const buffer_;
  LineSink* const sink_;
  std::mutex mutex_;
  std::condition_variable caught_up_;
  uint64_t next_ = 0;          // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace syncstream::stress

#endif  // SYNCSTREAM_TESTING_STRESS_BUFFER_COLLECTOR_H_
