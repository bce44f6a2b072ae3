// How the `syncstream` commands print text and records: the one place that
// escapes what a terminal must not interpret, writes JSON strings, and
// formats the records of `read`, `file tail` and `queue tail`.
//
// Record output (the flags are defined in record_output.cc; a command takes
// them by naming them in its usage):
//   --format=text     the record as FormatRecord shows it (a line: its text)
//   --format=tagged   "TIME SENDER TYPE: TEXT", like journalctl -o
//                     short-precise (TIME in UTC, microseconds)
//   --format=json     one object per record with every field, like
//                     journalctl -o json
//   --color=auto|always|never  errors red, warnings yellow, and (tagged) each
//                     sender in its own colour; auto: only when stdout is a
//                     terminal and NO_COLOR is unset or empty
//   --raw             text and tagged: print the records' own bytes as they
//                     are (control characters included)
//   --sender=A,B --type=X,Y --since=TIME|DURATION   only matching records
//
// A line longer than the buffers' maximum line length travels as several
// records (all but the last `continued`); RecordPrinter joins them again, so
// every format prints a line whole, whatever its length.
#ifndef SYNCSTREAM_TOOLS_RECORD_OUTPUT_H_
#define SYNCSTREAM_TOOLS_RECORD_OUTPUT_H_

#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "syncstream/core/record.h"

namespace syncstream::tools {

// `text` safe to write to a terminal: printable characters, tabs and valid
// UTF-8 as they are; line breaks as \n and \r; other control characters
// (C0, DEL, C1) and bytes that are not UTF-8 as \xNN or \uNNNN; Unicode
// direction overrides as \uNNNN. Use it for every name and text the CLI
// prints in text form.
std::string TerminalSafe(absl::string_view text);
// TerminalSafe for text of several lines: its '\n's stay line breaks.
std::string TerminalSafeLines(absl::string_view text);

// A JSON value for `bytes`: a string literal when they are valid UTF-8
// (quotes, backslashes and control characters escaped), otherwise an array
// of the byte values (journalctl's form for binary fields).
std::string JsonString(absl::string_view bytes);

// "2026-12-08T00:38:27.123456Z".
std::string IsoTime(absl::Time time);

enum class RecordFormat { kText, kTagged, kJson };

struct RecordFilter {
  std::vector<std::string> senders;  // empty: any
  std::vector<std::string> types;    // empty: any
  absl::Time since = absl::InfinitePast();

  bool Matches(const Record& record) const;
};

struct RecordOutputOptions {
  RecordFormat format = RecordFormat::kText;
  bool raw = false;
  bool color = false;
  RecordFilter filter;
};

// The options the record flags ask for; `default_format` when --format is not
// given. InvalidArgument naming the flag for a bad value.
absl::StatusOr<RecordOutputOptions> RecordOutputOptionsFromFlags(
    RecordFormat default_format);

// The usage words of the record flags, for a command's usage string.
inline constexpr char kRecordOutputUsage[] =
    "[--format text|tagged|json] [--color auto|always|never] [--raw] "
    "[--sender A,B] [--type X,Y] [--since TIME|DURATION]";

// Writes records to `out` in the chosen form. Not thread-safe.
class RecordPrinter {
 public:
  RecordPrinter(std::ostream& out, RecordOutputOptions options);
  // Finish()es.
  ~RecordPrinter();

  // Prints `record` if it matches the filter; a `continued` piece is held
  // until the rest of its line (same sender and type) arrives.
  void Print(const Record& record);
  // Flushes the stream (call after each batch).
  void Flush();
  // Prints the held pieces of lines whose rest never came (marked
  // continued in JSON), then flushes.
  void Finish();

 private:
  void PrintWhole(const Record& record);
  std::string Colored(absl::string_view text, absl::string_view color) const;
  std::string Tag(const Record& record) const;

  std::ostream& out_;
  const RecordOutputOptions options_;
  // Lines still coming, by (sender, type): the first piece with the text so
  // far.
  std::map<std::pair<std::string, std::string>, Record> pending_;
};

}  // namespace syncstream::tools

#endif  // SYNCSTREAM_TOOLS_RECORD_OUTPUT_H_
