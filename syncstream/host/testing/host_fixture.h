// Helpers for the host buffer tests: collectors on ephemeral loopback ports,
// mirrors pointed at them, captured collector logs, and waiting with
// deadlines.
#ifndef SYNCSTREAM_HOST_TESTING_HOST_FIXTURE_H_
#define SYNCSTREAM_HOST_TESTING_HOST_FIXTURE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "syncstream/host/line_host_buffer.h"
#include "syncstream/host/line_host_mirror.h"
#include "syncstream/host/line_host_reader.h"
#include "syncstream/core/deadline.h"

namespace syncstream::testing {

// Collects a collector's log lines.
class CapturedLog {
 public:
  std::function<void(absl::string_view)> Sink() {
    return [this](absl::string_view line) {
      std::lock_guard<std::mutex> guard(mutex_);
      lines_.emplace_back(line);
    };
  }
  bool Contains(absl::string_view text) const {
    std::lock_guard<std::mutex> guard(mutex_);
    for (const std::string& line : lines_) {
      if (absl::StrContains(line, text)) return true;
    }
    return false;
  }
  std::string All() const {
    std::lock_guard<std::mutex> guard(mutex_);
    std::string all;
    for (const std::string& line : lines_) all += line + "\n";
    return all;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Polls `condition` until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = ::syncstream::Now() + timeout;
  while (!condition()) {
    if (::syncstream::Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

inline LineHostMirrorOptions MirrorOptions(const net::Address& address,
                                           const std::string& name,
                                           const net::AuthKey& key = {}) {
  LineHostMirrorOptions options;
  options.collector = address;
  options.writer.name = name;
  options.key = key;
  options.close_timeout = absl::Seconds(30);
  return options;
}

inline std::vector<std::string> Texts(const std::vector<Record>& records) {
  std::vector<std::string> texts;
  for (const Record& r : records) texts.push_back(r.text);
  return texts;
}

}  // namespace syncstream::testing

#endif  // SYNCSTREAM_HOST_TESTING_HOST_FIXTURE_H_
