#include "tools/record_output.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <functional>

#include <gflags/gflags.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "syncstream/core/deadline.h"

DEFINE_string(format, "",
              "how to print records: text (the record's text), tagged (time, "
              "sender, type and text on each line, like journalctl -o "
              "short-precise) or json (one object per record with every "
              "field); default: the command's own (queue tail: tagged, the "
              "others: text)");
DEFINE_string(color, "auto",
              "colour errors, warnings and (tagged) senders: auto (only when "
              "stdout is a terminal and NO_COLOR is unset or empty), always "
              "or never");
DEFINE_bool(raw, false,
            "print the records' own bytes, control characters included "
            "(default: escaped as \\n, \\x1b ..., so that a record cannot "
            "drive the terminal)");
DEFINE_string(sender, "",
              "only records from these senders (comma-separated exact names)");
DEFINE_string(type, "",
              "only records of these types (comma-separated, e.g. "
              "stdout,stderr)");
DEFINE_string(since, "",
              "only records written at or after this time: RFC 3339 "
              "(2026-12-08T10:00:00Z) or a duration before now (90s, 10m, "
              "2h)");

namespace syncstream::tools {
namespace {

// The length of the valid UTF-8 sequence at the start of `s` (its code point
// in *code_point), or 0 when it is not one (overlong forms and surrogates
// included).
size_t Utf8Sequence(absl::string_view s, uint32_t* code_point) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t lead = byte(0);
  size_t length;
  uint32_t value, minimum;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if ((lead & 0xe0) == 0xc0) {
    length = 2, value = lead & 0x1f, minimum = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, value = lead & 0x0f, minimum = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, value = lead & 0x07, minimum = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    value = (value << 6) | (byte(i) & 0x3f);
  }
  if (value < minimum || value > 0x10ffff ||
      (value >= 0xd800 && value <= 0xdfff)) {
    return 0;
  }
  *code_point = value;
  return length;
}

bool IsValidUtf8(absl::string_view s) {
  uint32_t unused;
  for (size_t at = 0; at < s.size();) {
    const size_t length = Utf8Sequence(s.substr(at), &unused);
    if (length == 0) return false;
    at += length;
  }
  return true;
}

// Code points a terminal acts on or that reorder what is shown: C1 controls
// and the Unicode direction overrides and isolates.
bool IsInvisibleControl(uint32_t c) {
  return (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
         (c >= 0x2066 && c <= 0x2069);
}

std::vector<std::string> CommaList(const std::string& flag) {
  return absl::StrSplit(flag, ',', absl::SkipEmpty());
}

constexpr char kRed[] = "\x1b[1;31m";
constexpr char kYellow[] = "\x1b[33m";
constexpr char kReset[] = "\x1b[0m";
// Sender colours (tagged): green, blue, magenta, cyan and their bright forms.
constexpr const char* kSenderColors[] = {
    "\x1b[32m", "\x1b[34m", "\x1b[35m", "\x1b[36m",
    "\x1b[92m", "\x1b[94m", "\x1b[95m", "\x1b[96m"};

}  // namespace

std::string TerminalSafe(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t at = 0; at < text.size();) {
    uint32_t c = 0;
    const size_t length = Utf8Sequence(text.substr(at), &c);
    if (length == 0) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<uint8_t>(text[at]));
      ++at;
      continue;
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    } else if (IsInvisibleControl(c)) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out.append(text.data() + at, length);
    }
    at += length;
  }
  return out;
}

std::string TerminalSafeLines(absl::string_view text) {
  std::string out;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!first) out += '\n';
    first = false;
    out += TerminalSafe(line);
  }
  return out;
}

std::string JsonString(absl::string_view bytes) {
  if (!IsValidUtf8(bytes)) {
    std::string out = "[";
    for (size_t i = 0; i < bytes.size(); ++i) {
      absl::StrAppend(&out, i ? "," : "", static_cast<uint8_t>(bytes[i]));
    }
    return out + "]";
  }
  std::string out = "\"";
  for (unsigned char c : bytes) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through
        }
    }
  }
  return out + "\"";
}

std::string IsoTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
}

bool RecordFilter::Matches(const Record& record) const {
  const auto among = [](const std::vector<std::string>& names,
                        const std::string& name) {
    if (names.empty()) return true;
    for (const std::string& n : names) {
      if (n == name) return true;
    }
    return false;
  };
  return among(senders, record.sender) && among(types, record.type) &&
         record.timestamp >= since;
}

absl::StatusOr<RecordOutputOptions> RecordOutputOptionsFromFlags(
    RecordFormat default_format) {
  RecordOutputOptions options;
  if (FLAGS_format.empty()) {
    options.format = default_format;
  } else if (FLAGS_format == "text") {
    options.format = RecordFormat::kText;
  } else if (FLAGS_format == "tagged") {
    options.format = RecordFormat::kTagged;
  } else if (FLAGS_format == "json") {
    options.format = RecordFormat::kJson;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--format '", TerminalSafe(FLAGS_format),
        "': expected text, tagged or json"));
  }
  if (FLAGS_color == "always") {
    options.color = true;
  } else if (FLAGS_color == "auto") {
    const char* no_color = std::getenv("NO_COLOR");
    options.color = ::isatty(STDOUT_FILENO) == 1 &&
                    (no_color == nullptr || no_color[0] == '\0');
  } else if (FLAGS_color != "never") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--color '", TerminalSafe(FLAGS_color),
        "': expected auto, always or never"));
  }
  options.raw = FLAGS_raw;
  options.filter.senders = CommaList(FLAGS_sender);
  options.filter.types = CommaList(FLAGS_type);
  if (!FLAGS_since.empty()) {
    absl::Duration ago;
    std::string error;
    if (absl::ParseDuration(FLAGS_since, &ago) && ago >= absl::ZeroDuration()) {
      options.filter.since = ::syncstream::Now() - ago;
    } else if (!absl::ParseTime(absl::RFC3339_full, FLAGS_since,
                                &options.filter.since, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--since '", TerminalSafe(FLAGS_since),
          "': neither an RFC 3339 time (2026-12-08T10:00:00Z) nor a "
          "duration (90s, 10m, 2h): ",
          error));
    }
  }
  return options;
}

RecordPrinter::RecordPrinter(std::ostream& out, RecordOutputOptions options)
    : out_(out), options_(std::move(options)) {}

RecordPrinter::~RecordPrinter() { Finish(); }

void RecordPrinter::Print(const Record& record) {
  if (!record.is_line()) {
    PrintWhole(record);
    return;
  }
  auto key = std::make_pair(record.sender, record.type);
  auto held = pending_.find(key);
  if (held == pending_.end()) {
    if (!record.continued) {
      PrintWhole(record);
      return;
    }
    pending_.emplace(std::move(key), record);
    return;
  }
  held->second.text += record.text;
  if (record.continued) return;
  Record whole = std::move(held->second);
  pending_.erase(held);
  whole.continued = false;
  PrintWhole(whole);
}

void RecordPrinter::Flush() { out_.flush(); }

void RecordPrinter::Finish() {
  for (auto& [key, record] : pending_) PrintWhole(record);
  pending_.clear();
  out_.flush();
}

std::string RecordPrinter::Colored(absl::string_view text,
                                   absl::string_view color) const {
  if (!options_.color || color.empty()) return std::string(text);
  return absl::StrCat(color, text, kReset);
}

std::string RecordPrinter::Tag(const Record& record) const {
  const std::string sender =
      options_.raw ? record.sender : TerminalSafe(record.sender);
  const size_t color =
      std::hash<std::string>()(record.sender) % std::size(kSenderColors);
  std::string tag = absl::StrCat(IsoTime(record.timestamp), " ",
                                 Colored(sender, kSenderColors[color]));
  if (!record.type.empty()) {
    absl::StrAppend(&tag, " ",
                    options_.raw ? record.type : TerminalSafe(record.type));
  }
  return tag + ": ";
}

void RecordPrinter::PrintWhole(const Record& record) {
  if (!options_.filter.Matches(record)) return;
  if (options_.format == RecordFormat::kJson) {
    std::string trace;
    for (const std::string& frame : record.trace) {
      absl::StrAppend(&trace, trace.empty() ? "" : ",", JsonString(frame));
    }
    out_ << "{\"kind\":\"" << RecordKindName(record.kind)
         << "\",\"sender\":" << JsonString(record.sender)
         << ",\"type\":" << JsonString(record.type)
         << ",\"sequence\":" << record.sequence << ",\"time\":\""
         << IsoTime(record.timestamp)
         << "\",\"time_unix_nanos\":" << absl::ToUnixNanos(record.timestamp)
         << ",\"text\":" << JsonString(record.text) << ",\"trace\":["
         << trace << "],\"continued\":"
         << (record.continued ? "true" : "false") << "}\n";
    return;
  }
  const absl::string_view color = record.is_error()     ? kRed
                                  : record.is_warning() ? kYellow
                                                        : "";
  const auto safe = [this](const std::string& s) {
    return options_.raw ? s : TerminalSafe(s);
  };
  if (options_.format == RecordFormat::kText) {
    Record shown = record;
    shown.sender = safe(record.sender);
    shown.text = safe(record.text);
    for (std::string& frame : shown.trace) frame = safe(frame);
    out_ << Colored(FormatRecord(shown), color) << "\n";
    return;
  }
  const std::string tag = Tag(record);
  switch (record.kind) {
    case RecordKind::kLine:
      out_ << tag << safe(record.text) << "\n";
      break;
    case RecordKind::kEndOfStream:
      out_ << tag << "<end of stream>"
           << (record.text.empty() ? "" : " ") << safe(record.text) << "\n";
      break;
    case RecordKind::kError:
    case RecordKind::kWarning:
      out_ << tag
           << Colored(absl::StrCat(record.is_error() ? "Error: " : "Warning: ",
                                   safe(record.text)),
                      color)
           << "\n";
      for (const std::string& frame : record.trace) {
        out_ << tag << "  " << safe(frame) << "\n";
      }
      break;
  }
}

}  // namespace syncstream::tools
