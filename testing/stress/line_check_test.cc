#include "testing/stress/line_check.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace syncstream::stress {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

LineSpec Spec() { return LineSpec{"thread", 42, 80}; }

// Feeds every line of `workers` x `lines` in order, except as `skip` says.
LineChecker Clean(int workers, uint64_t lines) {
  LineChecker checker(Spec(), workers);
  for (uint64_t s = 0; s < lines; ++s) {
    for (int w = 0; w < workers; ++w) checker.Add(MakeLine(Spec(), w, s));
  }
  return checker;
}

std::vector<WorkerExpectation> All(int workers, uint64_t committed) {
  return std::vector<WorkerExpectation>(workers, {committed, false});
}

TEST(MakeLineTest, ExactLengthSelfCheckingAndDeterministic) {
  const std::string line = MakeLine(Spec(), 3, 17);
  EXPECT_EQ(line.size(), 80u);
  EXPECT_EQ(line.substr(0, 18), "ss1 thread w3 s17 ");
  EXPECT_EQ(line, MakeLine(Spec(), 3, 17));
  EXPECT_NE(line, MakeLine(Spec(), 3, 18));
  EXPECT_NE(line, MakeLine(LineSpec{"thread", 43, 80}, 3, 17));
  auto parsed = ParseLine(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->kind, "thread");
  EXPECT_EQ(parsed->worker, 3);
  EXPECT_EQ(parsed->seq, 17u);
}

TEST(MakeLineTest, ShortLengthGivesTheBareHeader) {
  LineSpec spec{"fdcapture", 1, 10};
  const std::string line = MakeLine(spec, 9, 999);
  EXPECT_EQ(line.size(), MinLineLength("fdcapture", 10, 1000));
  EXPECT_TRUE(ParseLine(line).ok());
}

TEST(ParseLineTest, RejectsDamage) {
  std::string line = MakeLine(Spec(), 1, 2);
  std::string flipped = line;
  flipped[30] = flipped[30] == 'A' ? 'B' : 'A';
  EXPECT_THAT(std::string(ParseLine(flipped).status().message()),
              HasSubstr("checksum"));
  EXPECT_FALSE(ParseLine(line.substr(0, 40)).ok());
  EXPECT_FALSE(ParseLine(line + "x").ok());
  EXPECT_FALSE(ParseLine("").ok());
  EXPECT_FALSE(ParseLine("ss1 a b c d e f").ok());
}

TEST(LineCheckerTest, CleanStreamPasses) {
  LineChecker checker = Clean(4, 100);
  CheckResult result = checker.Finish(All(4, 100));
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.counts.expected, 400u);
  EXPECT_EQ(result.counts.received, 400u);
  EXPECT_EQ(result.counts.valid, 400u);
  EXPECT_TRUE(result.problems.empty());
}

TEST(LineCheckerTest, DetectsLost) {
  LineChecker checker(Spec(), 2);
  for (uint64_t s = 0; s < 10; ++s) {
    if (s != 4 && s != 5) checker.Add(MakeLine(Spec(), 1, s));
    checker.Add(MakeLine(Spec(), 0, s));
  }
  CheckResult result = checker.Finish(All(2, 10));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.counts.lost, 2u);
  EXPECT_THAT(result.problems, Contains("lost: worker 1 lines 4-5"));
}

TEST(LineCheckerTest, DetectsLostTail) {
  LineChecker checker = Clean(1, 8);
  CheckResult result = checker.Finish(All(1, 10));
  EXPECT_EQ(result.counts.lost, 2u);
  EXPECT_THAT(result.problems, Contains("lost: worker 0 lines 8-9"));
}

TEST(LineCheckerTest, DetectsDuplicated) {
  LineChecker checker = Clean(2, 5);
  checker.Add(MakeLine(Spec(), 1, 3));
  CheckResult result = checker.Finish(All(2, 5));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.counts.duplicated, 1u);
  EXPECT_EQ(result.counts.lost, 0u);
  EXPECT_EQ(result.counts.out_of_order, 0u);
}

TEST(LineCheckerTest, DetectsGarbled) {
  LineChecker checker(Spec(), 1);
  for (uint64_t s = 0; s < 5; ++s) {
    std::string line = MakeLine(Spec(), 0, s);
    if (s == 2) line[40] ^= 0x01;
    checker.Add(line);
  }
  CheckResult result = checker.Finish(All(1, 5));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.counts.garbled, 1u);
  EXPECT_EQ(result.counts.glued, 0u);
  EXPECT_EQ(result.counts.lost, 1u);  // line 2 never arrived intact
}

TEST(LineCheckerTest, DetectsGlued) {
  LineChecker checker(Spec(), 2);
  const std::string a = MakeLine(Spec(), 0, 0);
  const std::string b = MakeLine(Spec(), 1, 0);
  // Worker 0's partial line, then worker 1's whole line, then the rest of 0.
  checker.Add(a.substr(0, 30) + b);
  checker.Add(a.substr(30));
  CheckResult result = checker.Finish(All(2, 1));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.counts.glued, 1u);
  EXPECT_EQ(result.counts.garbled, 2u);
  EXPECT_EQ(result.counts.lost, 2u);
}

TEST(LineCheckerTest, DetectsReordered) {
  LineChecker checker(Spec(), 2);
  checker.Add(MakeLine(Spec(), 0, 0));
  checker.Add(MakeLine(Spec(), 1, 1));
  checker.Add(MakeLine(Spec(), 0, 1));
  checker.Add(MakeLine(Spec(), 1, 0));  // after worker 1's line 1
  CheckResult result = checker.Finish(All(2, 2));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.counts.out_of_order, 1u);
  EXPECT_EQ(result.counts.lost, 0u);
  EXPECT_THAT(result.problems,
              Contains("out of order: worker 1 line 0 after line 1"));
}

TEST(LineCheckerTest, DetectsForeignAndUnexpectedLines) {
  LineChecker checker = Clean(1, 3);
  checker.Add(MakeLine(LineSpec{"fdcapture", 42, 80}, 0, 3));
  checker.Add(MakeLine(Spec(), 5, 0));  // no worker 5
  checker.Add(MakeLine(LineSpec{"thread", 42, 81}, 0, 7));  // wrong length
  CheckResult result = checker.Finish(All(1, 3));
  EXPECT_EQ(result.counts.garbled, 3u);
  // A worker that was not killed and committed 2 lines cannot send line 2.
  LineChecker more = Clean(1, 3);
  EXPECT_EQ(more.Finish(All(1, 2)).counts.garbled, 1u);
}

TEST(LineCheckerTest, KilledWorkerMayStopAfterItsCommittedLines) {
  LineChecker checker(Spec(), 2);
  for (uint64_t s = 0; s < 10; ++s) checker.Add(MakeLine(Spec(), 0, s));
  for (uint64_t s = 0; s < 7; ++s) checker.Add(MakeLine(Spec(), 1, s));
  // Worker 1 was killed while writing line 7.
  checker.Add(MakeLine(Spec(), 1, 7).substr(0, 33));
  CheckResult result =
      checker.Finish({{10, false}, {5, /*killed=*/true}});
  EXPECT_TRUE(result.ok()) << result.problems.size();
  EXPECT_EQ(result.counts.truncated, 1u);
  EXPECT_EQ(result.counts.expected, 17u);  // 10 + the 7 that arrived
}

TEST(LineCheckerTest, KilledWorkerMustStillDeliverCommittedLines) {
  LineChecker checker(Spec(), 1);
  for (uint64_t s = 0; s < 3; ++s) checker.Add(MakeLine(Spec(), 0, s));
  checker.Add(MakeLine(Spec(), 0, 4));  // line 3 missing before line 4
  CheckResult result = checker.Finish({{2, true}});
  EXPECT_EQ(result.counts.lost, 1u);
  EXPECT_THAT(result.problems, Contains("lost: worker 0 line 3"));

  LineChecker short_of_commit(Spec(), 1);
  short_of_commit.Add(MakeLine(Spec(), 0, 0));
  EXPECT_EQ(short_of_commit.Finish({{4, true}}).counts.lost, 3u);
}

TEST(LineCheckerTest, TruncatedLineIsGarbledUnlessAKilledWorkersTail) {
  const std::string partial = MakeLine(Spec(), 0, 3).substr(0, 50);
  LineChecker alive = Clean(1, 3);
  alive.Add(partial);
  EXPECT_EQ(alive.Finish(All(1, 3)).counts.garbled, 1u);

  // Killed, but the partial text is not the line it was writing next.
  LineChecker wrong = Clean(1, 3);
  wrong.Add(MakeLine(Spec(), 0, 5).substr(0, 50));
  CheckResult result = wrong.Finish({{3, true}});
  EXPECT_EQ(result.counts.garbled, 1u);
  EXPECT_EQ(result.counts.truncated, 0u);

  // Only one tail per killed worker.
  LineChecker two = Clean(1, 3);
  two.Add(partial);
  two.Add(partial);
  result = two.Finish({{3, true}});
  EXPECT_EQ(result.counts.truncated, 1u);
  EXPECT_EQ(result.counts.garbled, 1u);
}

}  // namespace
}  // namespace syncstream::stress
