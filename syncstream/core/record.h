// Record: the unit every syncstream buffer stores and every channel carries.
//
// A record is one complete line, an end-of-stream marker, or an error/warning
// with its trace (the C++ counterpart of sync-stream's GroupedMessage). Each
// carries its sender (the writer's name), an optional type tag, the sender's
// own sequence number and the time it was completed.
//
// This struct is the in-process form, cheap to copy-assign into reused
// storage. syncstream.proto.Record (syncstream/proto/record.proto) is its
// serialized form: one per frame of a shared-disk segment, and in readers'
// replies. Channels that carry records in bulk encode them in batch formats
// of their own (the proc and host batches, docs/formats/).
#ifndef SYNCSTREAM_CORE_RECORD_H_
#define SYNCSTREAM_CORE_RECORD_H_

#include <cstdint>
#include <exception>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/proto/record.pb.h"

namespace syncstream {

enum class RecordKind : uint8_t {
  kLine = 1,         // `text` is one complete line, without its line break
  kEndOfStream = 2,  // the sender closed its stream
  kError = 3,        // `text` is the message, `trace` the stack trace
  kWarning = 4,      // as kError, for a non-fatal condition
};

// "line", "eof", "error", "warning".
absl::string_view RecordKindName(RecordKind kind);

struct Record {
  RecordKind kind = RecordKind::kLine;
  std::string sender;
  std::string type;
  uint64_t sequence = 0;
  absl::Time timestamp = absl::UnixEpoch();
  std::string text;
  std::vector<std::string> trace;
  // kLine only: the line was cut at the maximum line length and the sender's
  // text goes on in its next record.
  bool continued = false;

  bool is_line() const { return kind == RecordKind::kLine; }
  bool is_error() const { return kind == RecordKind::kError; }
  bool is_warning() const { return kind == RecordKind::kWarning; }
  bool is_end_of_stream() const { return kind == RecordKind::kEndOfStream; }

  friend bool operator==(const Record& a, const Record& b);
  friend bool operator!=(const Record& a, const Record& b) { return !(a == b); }
};

// Printable form, like Python's str(GroupedMessage):
//   line        -> the text
//   eof         -> "<end of stream from SENDER>"
//   error       -> "Error from SENDER: MESSAGE" and then one "  TRACE" line
//                  per trace entry, separated by '\n'
//   warning     -> the same, starting "Warning from SENDER: "
std::string FormatRecord(const Record& record);
std::ostream& operator<<(std::ostream& os, const Record& record);

// Conversion to and from the wire/disk schema. FromProto validates: an unknown
// or unspecified kind is InvalidArgument, as is a non-line with `continued`.
proto::Record ToProto(const Record& record);
void ToProto(const Record& record, proto::Record* out);
absl::StatusOr<Record> FromProto(const proto::Record& message);
// The same into `*out`, reusing its strings' storage (for hot receive paths);
// `*out` is unspecified on error.
absl::Status FromProto(const proto::Record& message, Record* out);

// Error and warning records with the calling thread's stack trace
// (Abseil's stack trace and symbolizer). `skip_frames` drops that many of the
// innermost frames beyond this function itself.
Record MakeErrorRecord(absl::string_view message, int skip_frames = 0);
Record MakeWarningRecord(absl::string_view message, int skip_frames = 0);
// The message of an exception: "TYPE: what()" (TYPE demangled).
std::string DescribeException(const std::exception& e);
// The message of a status: its ToString().
std::string DescribeStatus(const absl::Status& status);

// The calling thread's stack, innermost first, one symbolized frame per entry
// ("#3 0x55d0c0 syncstream::Foo()"). At most `max_frames` frames.
std::vector<std::string> CurrentStackTrace(int skip_frames = 0,
                                           int max_frames = 64);

}  // namespace syncstream

#endif  // SYNCSTREAM_CORE_RECORD_H_
