// RecordingWriter (tests only): a LineWriter that keeps every record it is
// given, for tests of code generic over LineWriter (redirects, fd capture,
// mirrors).
#ifndef SYNCSTREAM_CORE_TESTING_RECORDING_WRITER_H_
#define SYNCSTREAM_CORE_TESTING_RECORDING_WRITER_H_

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "syncstream/core/line_writer.h"
#include "syncstream/core/record.h"

namespace syncstream {
namespace testutil {

class RecordingWriter : public LineWriter {
 public:
  explicit RecordingWriter(LineWriterOptions options = {})
      : LineWriter(std::move(options)) {}
  ~RecordingWriter() override { CloseAllWriters().IgnoreError(); }

  using LineWriter::CloseAllWriters;

  // Every record published so far, in publication order.
  std::vector<Record> records() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return records_;
  }
  // The texts of the line records of `sender`, in order.
  std::vector<std::string> LinesOf(const std::string& sender) const {
    std::lock_guard<std::mutex> guard(mutex_);
    std::vector<std::string> lines;
    for (const Record& r : records_) {
      if (r.is_line() && r.sender == sender) lines.push_back(r.text);
    }
    return lines;
  }
  // The texts of the line records of type `type` (e.g. "stdout"), in order.
  std::vector<std::string> LinesOfType(const std::string& type) const {
    std::lock_guard<std::mutex> guard(mutex_);
    std::vector<std::string> lines;
    for (const Record& r : records_) {
      if (r.is_line() && r.type == type) lines.push_back(r.text);
    }
    return lines;
  }

 protected:
  absl::Status Publish(const Record& record) override {
    std::lock_guard<std::mutex> guard(mutex_);
    records_.push_back(record);
    return absl::OkStatus();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Record> records_;
};

}  // namespace testutil
}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_TESTING_RECORDING_WRITER_H_
