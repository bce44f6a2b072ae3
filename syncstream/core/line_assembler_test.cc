#include "syncstream/core/line_assembler.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace syncstream {
namespace {

using Line = std::pair<std::string, bool>;  // text, continued
using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Collector {
  std::vector<Line> lines;
  void operator()(absl::string_view line, bool continued) {
    lines.emplace_back(std::string(line), continued);
  }
};

std::vector<Line> Assemble(std::vector<std::string> writes,
                           size_t max = kDefaultMaxLineLength,
                           bool flush = false) {
  LineAssembler assembler(max);
  Collector out;
  for (const std::string& w : writes) assembler.Append(w, out);
  if (flush) assembler.Flush(out);
  return out.lines;
}

TEST(LineAssemblerTest, NewlineEndsLineAndIsDropped) {
  EXPECT_THAT(Assemble({"a\nb\n"}),
              ElementsAre(Line{"a", false}, Line{"b", false}));
}

TEST(LineAssemblerTest, PartialLineStaysPendingUntilNewline) {
  LineAssembler assembler;
  Collector out;
  assembler.Append("Message", out);
  assembler.Append(" item", out);
  EXPECT_THAT(out.lines, IsEmpty());
  EXPECT_EQ(assembler.pending(), "Message item");
  assembler.Append("\n", out);
  EXPECT_THAT(out.lines, ElementsAre(Line{"Message item", false}));
  EXPECT_FALSE(assembler.has_pending());
}

TEST(LineAssemblerTest, EmptyLinesAreKept) {
  EXPECT_THAT(Assemble({"\n\nx\n"}),
              ElementsAre(Line{"", false}, Line{"", false}, Line{"x", false}));
}

TEST(LineAssemblerTest, CrLfIsOneBreakEvenAcrossWrites) {
  EXPECT_THAT(Assemble({"a\r\nb\r", "\nc\r\n"}),
              ElementsAre(Line{"a", false}, Line{"b", false},
                          Line{"c", false}));
}

TEST(LineAssemblerTest, LoneCarriageReturnAndControlBytesAreKept) {
  std::string nul_line("x\0y", 3);
  EXPECT_THAT(Assemble({"50%\r100%\n", "\t\x1b[1m" + nul_line + "\n"}),
              ElementsAre(Line{"50%\r100%", false},
                          Line{"\t\x1b[1m" + nul_line, false}));
}

TEST(LineAssemblerTest, FlushEmitsPendingAsFinalLine) {
  EXPECT_THAT(Assemble({"done\npartial"}, kDefaultMaxLineLength, true),
              ElementsAre(Line{"done", false}, Line{"partial", false}));
  EXPECT_THAT(Assemble({"done\n"}, kDefaultMaxLineLength, true),
              ElementsAre(Line{"done", false}));
}

TEST(LineAssemblerTest, OverlongLineIsCutAndMarkedContinued) {
  EXPECT_THAT(Assemble({"abcdefghij\n"}, 4),
              ElementsAre(Line{"abcd", true}, Line{"efgh", true},
                          Line{"ij", false}));
}

TEST(LineAssemblerTest, WriterWithoutNewlinesHoldsAtMostTheLimit) {
  LineAssembler assembler(8);
  Collector out;
  for (int i = 0; i < 1000; ++i) {
    assembler.Append("xyz", out);
    ASSERT_LE(assembler.pending().size(), 8u);
  }
  size_t total = assembler.pending().size();
  for (const Line& line : out.lines) {
    EXPECT_TRUE(line.second);
    EXPECT_EQ(line.first.size(), 8u);
    total += line.first.size();
  }
  EXPECT_EQ(total, 3000u);
}

TEST(LineAssemblerTest, LineOfExactlyTheLimitIsNotCut) {
  EXPECT_THAT(Assemble({"abcd\n", "ef", "gh\r", "\n"}, 4),
              ElementsAre(Line{"abcd", false}, Line{"efgh", false}));
}

TEST(LineAssemblerTest, CutDoesNotSplitUtf8Character) {
  // "ab" + U+00E9 (2 bytes) + "c": a cut at 3 would split the 'é'.
  EXPECT_THAT(Assemble({"ab\xC3\xA9" "cd\n"}, 4),
              ElementsAre(Line{"ab\xC3\xA9", true}, Line{"cd", false}));
  EXPECT_THAT(Assemble({"abc\xC3\xA9\n"}, 4),
              ElementsAre(Line{"abc", true}, Line{"\xC3\xA9", false}));
}

TEST(LineAssemblerTest, TinyLimitIsRaisedToFour) {
  LineAssembler assembler(0);
  EXPECT_EQ(assembler.max_line_length(), 4u);
}

}  // namespace
}  // namespace syncstream

namespace syncstream {
namespace {

// The inline search agrees with memchr for every size and every position of
// the first '\n' (including none), on both sides of its SSE2 range.
TEST(FindNewlineTest, AgreesWithMemchr) {
  for (size_t size = 0; size <= 600; ++size) {
    std::string text(size, 'x');
    for (size_t at = 0; at <= size; ++at) {
      if (at < size) text[at] = '\n';
      if (at + 7 < size) text[at + 7] = '\n';  // a later one must not win
      const char* expected =
          static_cast<const char*>(std::memchr(text.data(), '\n', size));
      ASSERT_EQ(line_assembler_internal::FindNewline(text.data(), size),
                expected)
          << "size " << size << ", first newline at " << at;
      if (at < size) text[at] = 'x';
      if (at + 7 < size) text[at + 7] = 'x';
    }
  }
}

}  // namespace
}  // namespace syncstream
