#include "syncstream/core/record.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "syncstream/core/deadline.h"

namespace syncstream {

absl::string_view RecordKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kLine:
      return "line";
    case RecordKind::kEndOfStream:
      return "eof";
    case RecordKind::kError:
      return "error";
    case RecordKind::kWarning:
      return "warning";
  }
  return "unknown";
}

bool operator==(const Record& a, const Record& b) {
  return a.kind == b.kind && a.sender == b.sender && a.type == b.type &&
         a.sequence == b.sequence && a.timestamp == b.timestamp &&
         a.text == b.text && a.trace == b.trace && a.continued == b.continued;
}

std::string FormatRecord(const Record& record) {
  switch (record.kind) {
    case RecordKind::kLine:
      return record.text;
    case RecordKind::kEndOfStream:
      return absl::StrCat("<end of stream from ", record.sender, ">");
    case RecordKind::kError:
    case RecordKind::kWarning: {
      std::string out = absl::StrCat(
          record.kind == RecordKind::kError ? "Error" : "Warning", " from ",
          record.sender, ": ", record.text);
      for (const std::string& frame : record.trace) {
        absl::StrAppend(&out, "\n  ", frame);
      }
      return out;
    }
  }
  return record.text;
}

std::ostream& operator<<(std::ostream& os, const Record& record) {
  return os << FormatRecord(record);
}

void ToProto(const Record& record, proto::Record* out) {
  out->Clear();
  out->set_kind(static_cast<proto::Record::Kind>(record.kind));
  out->set_sender(record.sender);
  out->set_type(record.type);
  out->set_sequence(record.sequence);
  out->set_timestamp_unix_nanos(absl::ToUnixNanos(record.timestamp));
  out->set_text(record.text);
  for (const std::string& frame : record.trace) out->add_trace(frame);
  out->set_continued(record.continued);
}

proto::Record ToProto(const Record& record) {
  proto::Record out;
  ToProto(record, &out);
  return out;
}

absl::Status FromProto(const proto::Record& message, Record* out) {
  RecordKind kind;
  switch (message.kind()) {
    case proto::Record::LINE:
      kind = RecordKind::kLine;
      break;
    case proto::Record::END_OF_STREAM:
      kind = RecordKind::kEndOfStream;
      break;
    case proto::Record::ERROR:
      kind = RecordKind::kError;
      break;
    case proto::Record::WARNING:
      kind = RecordKind::kWarning;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "record from '", message.sender(), "': unknown kind ",
          static_cast<int>(message.kind())));
  }
  if (message.continued() && kind != RecordKind::kLine) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record from '", message.sender(), "': only a line can be continued"));
  }
  out->kind = kind;
  out->sender.assign(message.sender());
  out->type.assign(message.type());
  out->sequence = message.sequence();
  out->timestamp = absl::FromUnixNanos(message.timestamp_unix_nanos());
  out->text.assign(message.text());
  out->trace.assign(message.trace().begin(), message.trace().end());
  out->continued = message.continued();
  return absl::OkStatus();
}

absl::StatusOr<Record> FromProto(const proto::Record& message) {
  Record record;
  absl::Status status = FromProto(message, &record);
  if (!status.ok()) return status;
  return record;
}

std::vector<std::string> CurrentStackTrace(int skip_frames, int max_frames) {
  std::vector<void*> frames(max_frames > 0 ? max_frames : 1);
  // Abseil's skip count already leaves out this function itself.
  int depth = absl::GetStackTrace(frames.data(), max_frames, skip_frames);
  std::vector<std::string> trace;
  trace.reserve(depth);
  char symbol[1024];
  for (int i = 0; i < depth; ++i) {
    const char* name = "(unknown)";
    if (absl::Symbolize(frames[i], symbol, sizeof(symbol))) name = symbol;
    trace.push_back(absl::StrFormat("#%d %p %s", i, frames[i], name));
  }
  return trace;
}

namespace {

Record MakeTraceRecord(RecordKind kind, absl::string_view message,
                       int skip_frames) {
  Record record;
  record.kind = kind;
  record.text = std::string(message);
  // +2: this helper and its public caller.
  record.trace = CurrentStackTrace(skip_frames + 2);
  record.timestamp = ::syncstream::Now();
  return record;
}

}  // namespace

Record MakeErrorRecord(absl::string_view message, int skip_frames) {
  return MakeTraceRecord(RecordKind::kError, message, skip_frames);
}

Record MakeWarningRecord(absl::string_view message, int skip_frames) {
  return MakeTraceRecord(RecordKind::kWarning, message, skip_frames);
}

std::string DescribeException(const std::exception& e) {
  const char* mangled = typeid(e).name();
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return absl::StrCat(status == 0 && demangled ? demangled.get() : mangled,
                      ": ", e.what());
}

std::string DescribeStatus(const absl::Status& status) {
  return status.ToString();
}

}  // namespace syncstream
