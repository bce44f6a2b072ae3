#include "syncstream/proc/program.h"

#include <signal.h>

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/testing/recording_writer.h"

namespace syncstream {
namespace {

using testutil::RecordingWriter;

absl::StatusOr<std::unique_ptr<RunningProgram>> Shell(RecordingWriter& sink,
                                                      std::string script) {
  ProgramOptions options;
  options.argv = {"/bin/sh", "-c", std::move(script)};
  return RunningProgram::Start(sink, std::move(options));
}

TEST(RunningProgramTest, LinesOfBothStreamsTaggedAndFinalRecord) {
  RecordingWriter sink;
  auto program = Shell(sink,
                       "printf 'out 1\\n'; printf 'err 1\\n' >&2; "
                       "printf 'out '; printf 'err ' >&2; sleep 0.05; "
                       "printf '2\\n'; printf '2\\n' >&2; printf 'tail'");
  ASSERT_TRUE(program.ok()) << program.status();
  auto status = (*program)->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->success());
  EXPECT_EQ(sink.LinesOfType("stdout"),
            (std::vector<std::string>{"out 1", "out 2", "tail"}));
  EXPECT_EQ(sink.LinesOfType("stderr"),
            (std::vector<std::string>{"err 1", "err 2"}));
  std::vector<Record> records = sink.records();
  ASSERT_FALSE(records.empty());
  const Record& last = records.back();
  EXPECT_TRUE(last.is_end_of_stream());
  EXPECT_EQ(last.type, "exit");
  EXPECT_EQ(last.text, "exited with status 0");
  std::string sender = "sh[" + std::to_string((*program)->pid()) + "]";
  EXPECT_EQ((*program)->sender(), sender);
  for (const Record& r : records) EXPECT_EQ(r.sender, sender);
}

TEST(RunningProgramTest, NonZeroExitIsAnErrorRecordNamingThePid) {
  RecordingWriter sink;
  auto program = Shell(sink, "exit 3");
  ASSERT_TRUE(program.ok());
  auto status = (*program)->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, ExitStatus::Exited(3));
  std::vector<Record> records = sink.records();
  ASSERT_EQ(records.size(), 1u);  // printed nothing: only the final record
  EXPECT_TRUE(records[0].is_error());
  EXPECT_EQ(records[0].text,
            (*program)->sender() + " exited with status 3");
}

TEST(RunningProgramTest, KillIsReportedAndPendingLineDelivered) {
  RecordingWriter sink;
  auto program = Shell(sink, "printf 'half a line'; exec sleep 30");
  ASSERT_TRUE(program.ok());
  // Wait until the partial text has reached the pump (no sleep-and-hope).
  absl::Time deadline = ::syncstream::Now() + absl::Seconds(10);
  bool pending = false;
  while (!pending && ::syncstream::Now() < deadline) {
    for (const auto& [sender, text] : sink.PendingLines()) {
      pending |= text == "half a line";
    }
    if (!pending) absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(pending);
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      (*program)->Wait(absl::ZeroDuration()).status()));
  ASSERT_TRUE((*program)->Kill(SIGKILL).ok());
  auto status = (*program)->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, ExitStatus::Signaled(SIGKILL));
  EXPECT_EQ(sink.LinesOfType("stdout"), std::vector<std::string>{"half a line"});
  EXPECT_NE(sink.records().back().text.find("killed by signal 9"),
            std::string::npos);
}

TEST(RunningProgramTest, DestructorKillsARunningProgram) {
  RecordingWriter sink;
  {
    auto program = Shell(sink, "exec sleep 30");
    ASSERT_TRUE(program.ok());
  }
  std::vector<Record> records = sink.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].is_error());
}

TEST(RunningProgramTest, MissingProgramIsAnErrorAtStart) {
  RecordingWriter sink;
  ProgramOptions options;
  options.argv = {"/nonexistent/program"};
  auto program = RunningProgram::Start(sink, std::move(options));
  EXPECT_FALSE(program.ok());
  EXPECT_NE(program.status().message().find("/nonexistent/program"),
            std::string::npos);
  EXPECT_TRUE(sink.records().empty());
}

TEST(RunningProgramTest, ManyProgramsLinesNeverGlued) {
  RecordingWriter sink;
  std::vector<std::unique_ptr<RunningProgram>> programs;
  for (int p = 0; p < 4; ++p) {
    // Each program prints 2000 lines in pieces of uneven size.
    auto program = Shell(
        sink, "i=0; while [ $i -lt 2000 ]; do printf 'p" + std::to_string(p) +
                  " '; printf 'line %d\\n' $i; i=$((i+1)); done");
    ASSERT_TRUE(program.ok());
    programs.push_back(*std::move(program));
  }
  for (auto& program : programs) {
    ASSERT_TRUE(program->Wait(absl::Seconds(60)).ok());
  }
  std::map<std::string, int> next;
  for (const Record& r : sink.records()) {
    if (!r.is_line()) continue;
    std::string prefix = r.text.substr(0, 3);
    std::string expected = prefix + "line " + std::to_string(next[prefix]++);
    ASSERT_EQ(r.text, expected);
  }
  ASSERT_EQ(next.size(), 4u);
  for (const auto& [prefix, count] : next) EXPECT_EQ(count, 2000) << prefix;
}

}  // namespace
}  // namespace syncstream
