#include "tools/record_output.h"

#include <sstream>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "syncstream/core/record.h"

namespace syncstream::tools {
namespace {

Record Line(std::string sender, std::string type, std::string text,
            bool continued = false) {
  Record r;
  r.sender = std::move(sender);
  r.type = std::move(type);
  r.text = std::move(text);
  r.sequence = 7;
  r.timestamp = absl::FromUnixMicros(1796689107123456);  // 2026-12-08
  r.continued = continued;
  return r;
}

std::string Printed(RecordOutputOptions options,
                    const std::vector<Record>& records) {
  std::ostringstream out;
  RecordPrinter printer(out, options);
  for (const Record& r : records) printer.Print(r);
  printer.Finish();
  return out.str();
}

TEST(TerminalSafeTest, EscapesControlsKeepsTextTabsAndUtf8) {
  EXPECT_EQ(TerminalSafe("plain\ttext é ✓"), "plain\ttext é ✓");
  EXPECT_EQ(TerminalSafe("evil\x1b]0;TITLE\x07\x1b[31mRED"),
            "evil\\x1b]0;TITLE\\x07\\x1b[31mRED");
  EXPECT_EQ(TerminalSafe("a\nb\rc\x7f"), "a\\nb\\rc\\x7f");
  EXPECT_EQ(TerminalSafe("\xc2\x9b" "31m"), "\\u009b31m");  // C1 CSI
  EXPECT_EQ(TerminalSafe("\x9b" "31m"), "\\x9b31m");  // not UTF-8
  EXPECT_EQ(TerminalSafe("\xe2\x80\xae" "abc"), "\\u202eabc");  // RTL override
  EXPECT_EQ(TerminalSafe("\xc0\xaf"), "\\xc0\\xaf");  // overlong '/'
}

TEST(TerminalSafeTest, LinesKeepTheirBreaks) {
  EXPECT_EQ(TerminalSafeLines("a\x1b\nb\n"), "a\\x1b\nb\n");
  EXPECT_EQ(TerminalSafeLines(""), "");
  EXPECT_EQ(TerminalSafeLines("\n\rx"), "\n\\rx");
}

TEST(JsonStringTest, EscapesAndKeepsBinaryExact) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01 é"), "\"a\\\"b\\\\c\\n\\u0001 é\"");
  EXPECT_EQ(JsonString("\xff" "A"), "[255,65]");
}

TEST(RecordPrinterTest, TextJoinsContinuedPiecesOfOneLine) {
  const std::string big(70000, 'x');
  RecordOutputOptions options;
  std::string out = Printed(
      options, {Line("a", "", big.substr(0, 65536), true),
                Line("b", "", "other"),
                Line("a", "", big.substr(65536))});
  EXPECT_EQ(out, "other\n" + big + "\n");
}

TEST(RecordPrinterTest, TaggedShowsTimeSenderTypeOncePerLine) {
  RecordOutputOptions options;
  options.format = RecordFormat::kTagged;
  std::string out = Printed(options, {Line("host-1:42", "stdout", "ab", true),
                                      Line("host-1:42", "stdout", "cd"),
                                      Line("w", "", "e\x1b[31m")});
  EXPECT_EQ(out,
            "2026-12-08T00:18:27.123456Z host-1:42 stdout: abcd\n"
            "2026-12-08T00:18:27.123456Z w: e\\x1b[31m\n");
  options.raw = true;
  EXPECT_EQ(Printed(options, {Line("w", "", "e\x1b[31m")}),
            "2026-12-08T00:18:27.123456Z w: e\x1b[31m\n");
}

TEST(RecordPrinterTest, JsonHasEveryField) {
  RecordOutputOptions options;
  options.format = RecordFormat::kJson;
  Record error = Line("w\"1", "t", "boom\n");
  error.kind = RecordKind::kError;
  error.trace = {"#0 f()"};
  EXPECT_EQ(Printed(options, {error}),
            "{\"kind\":\"error\",\"sender\":\"w\\\"1\",\"type\":\"t\","
            "\"sequence\":7,\"time\":\"2026-12-08T00:18:27.123456Z\","
            "\"time_unix_nanos\":1796689107123456000,\"text\":\"boom\\n\","
            "\"trace\":[\"#0 f()\"],\"continued\":false}\n");
  // A line whose rest never came is printed at the end, marked.
  std::string out = Printed(options, {Line("w", "", "half", true)});
  EXPECT_NE(out.find("\"text\":\"half\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"continued\":true"), std::string::npos) << out;
}

TEST(RecordPrinterTest, ColorsErrorsWarningsAndSendersOnlyWhenAsked) {
  Record error = Line("w", "", "bad");
  error.kind = RecordKind::kError;
  Record warning = Line("w", "", "meh");
  warning.kind = RecordKind::kWarning;
  RecordOutputOptions options;
  EXPECT_EQ(Printed(options, {error, warning}),
            "Error from w: bad\nWarning from w: meh\n");
  options.color = true;
  EXPECT_EQ(Printed(options, {error, warning}),
            "\x1b[1;31mError from w: bad\x1b[0m\n"
            "\x1b[33mWarning from w: meh\x1b[0m\n");
  options.format = RecordFormat::kTagged;
  std::string tagged = Printed(options, {Line("w", "", "x")});
  EXPECT_NE(tagged.find("Z \x1b["), std::string::npos) << tagged;
  EXPECT_NE(tagged.find("w\x1b[0m: x\n"), std::string::npos) << tagged;
}

TEST(RecordPrinterTest, FiltersBySenderTypeAndTime) {
  RecordOutputOptions options;
  options.filter.senders = {"a", "c"};
  options.filter.types = {"stdout"};
  options.filter.since = absl::FromUnixMicros(1796689107123456);
  Record old = Line("a", "stdout", "old");
  old.timestamp -= absl::Seconds(1);
  EXPECT_EQ(Printed(options, {Line("a", "stdout", "1"), Line("b", "stdout", "2"),
                              Line("c", "stderr", "3"), old,
                              Line("c", "stdout", "4")}),
            "1\n4\n");
}

}  // namespace
}  // namespace syncstream::tools
