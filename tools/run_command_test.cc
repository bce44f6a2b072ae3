// `syncstream run`, exercised through the real binary.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/deadline.h"
#include "tools/testing/run_tool.h"

namespace syncstream {
namespace {

using tools::testing::TempPath;

struct Outcome {
  ExitStatus status;
  std::string out;
  std::string err;
};

// Runs `syncstream run ARGS...` with `input` on stdin.
Outcome RunTool(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), {std::getenv("SYNCSTREAM_BINARY"), "run"});
  tools::testing::ToolOutcome outcome = tools::testing::RunTool(args, input);
  return {outcome.status, outcome.out, outcome.err};
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

TEST(RunCommandTest, PartialLinesOfParallelCommandsAreNeverMixed) {
  std::vector<std::string> args = {"-j", "4", "--"};
  for (char c : std::string("ABCD")) {
    args.push_back(std::string("i=0; while [ $i -lt 300 ]; do printf '") + c +
                   "%d-' $i; printf 'x\\n'; i=$((i+1)); done");
  }
  Outcome outcome = RunTool(args);
  EXPECT_TRUE(outcome.status.success()) << outcome.err;
  std::map<char, int> next;
  for (const std::string& line : Lines(outcome.out)) {
    ASSERT_FALSE(line.empty());
    char c = line[0];
    ASSERT_EQ(line, std::string(1, c) + std::to_string(next[c]++) + "-x");
  }
  EXPECT_EQ(next, (std::map<char, int>{{'A', 300}, {'B', 300}, {'C', 300},
                                       {'D', 300}}));
}

TEST(RunCommandTest, StdoutAndStderrStaySeparateWithTags) {
  Outcome outcome =
      RunTool({"--tag", "--", "echo o1; echo e1 >&2; printf o2; printf e2 >&2"});
  EXPECT_TRUE(outcome.status.success());
  std::string tag = "echo o1; echo e1 >&2; printf o2; printf e2 >&2\t";
  EXPECT_EQ(outcome.out, tag + "o1\n" + tag + "o2\n");
  EXPECT_EQ(outcome.err, tag + "e1\n" + tag + "e2\n");
}

TEST(RunCommandTest, FailuresAreSummarizedAndSetTheExitStatus) {
  Outcome outcome = RunTool({"-j", "2", "--", "true", "exit 3", "kill -9 $$", ""});
  EXPECT_EQ(outcome.status, ExitStatus::Exited(1));
  EXPECT_EQ(outcome.out, "");  // no command printed anything
  EXPECT_NE(outcome.err.find("2 of 4 commands failed"), std::string::npos)
      << outcome.err;
  EXPECT_NE(outcome.err.find("exit 3: exited with status 3"),
            std::string::npos);
  EXPECT_NE(outcome.err.find("kill -9 $$: killed by signal 9"),
            std::string::npos);
}

TEST(RunCommandTest, KeepOrderGroupsOutputInInputOrder) {
  // The first command finishes last; its lines still come first.
  Outcome outcome = RunTool({"-j", "3", "--keep-order", "--",
                         "echo a1; sleep 0.3; echo a2", "echo b1; echo b2",
                         "echo c1"});
  EXPECT_TRUE(outcome.status.success());
  EXPECT_EQ(outcome.out, "a1\na2\nb1\nb2\nc1\n");
}

TEST(RunCommandTest, CommandsFromStdinAndFromAFile) {
  Outcome from_stdin = RunTool({"-j", "1"}, "echo one\n\necho two\n");
  EXPECT_TRUE(from_stdin.status.success());
  EXPECT_EQ(from_stdin.out, "one\ntwo\n");

  std::string path = TempPath("commands");
  std::ofstream(path) << "echo three\necho four >&2\n";
  Outcome from_file = RunTool({"-j", "1", "--commands", path});
  ::unlink(path.c_str());
  EXPECT_TRUE(from_file.status.success());
  EXPECT_EQ(from_file.out, "three\n");
  EXPECT_EQ(from_file.err, "four\n");

  Outcome missing = RunTool({"--commands", "/nonexistent/commands"});
  EXPECT_EQ(missing.status, ExitStatus::Exited(2));
  EXPECT_NE(missing.err.find("/nonexistent/commands"), std::string::npos);
}

TEST(RunCommandTest, ALineLongerThan64KiBIsPrintedWholeWithOneTag) {
  // The 70,000-byte line reaches the writer as two pieces; another command
  // prints meanwhile.
  const std::string command =
      "head -c 70000 /dev/zero | tr '\\0' x; sleep 0.2; echo";
  Outcome outcome = RunTool(
      {"-j", "2", "--tag", "--", command, "sleep 0.1; echo other"});
  EXPECT_TRUE(outcome.status.success()) << outcome.err;
  const std::string whole = command + "\t" + std::string(70000, 'x');
  std::vector<std::string> lines = Lines(outcome.out);
  ASSERT_EQ(lines.size(), 2u) << "tags: " << std::count(
      outcome.out.begin(), outcome.out.end(), '\t');
  EXPECT_EQ(lines[0], "sleep 0.1; echo other\tother");
  EXPECT_TRUE(lines[1] == whole)  // not printed: 70 KB
      << lines[1].size() << " bytes, "
      << std::count(lines[1].begin(), lines[1].end(), '\t') << " tags";
}

TEST(RunCommandTest, AMultiLineCommandsTagIsOneLine) {
  Outcome outcome = RunTool({"--tag", "--", "echo a\necho b"});
  EXPECT_TRUE(outcome.status.success()) << outcome.err;
  EXPECT_EQ(outcome.out, "echo a\\necho b\ta\necho a\\necho b\tb\n");
}

TEST(RunCommandTest, UsageErrorsExitWith2) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"-j", "abc", "--", "true"},
        {"--no_such_flag", "--", "true"},
        {"--json", "--", "true"},  // another command's flag
        {"-j"},
        {"--grace=-1", "--", "true"}}) {
    Outcome outcome = RunTool(args);
    EXPECT_EQ(outcome.status, ExitStatus::Exited(2))
        << args[0] << ": " << outcome.err;
    EXPECT_NE(outcome.err.find("syncstream run"), std::string::npos)
        << outcome.err;
  }
  // A failed command is 1, not 2.
  EXPECT_EQ(RunTool({"--", "exit 2"}).status, ExitStatus::Exited(1));
}

// Whether process `pid` is gone (or a zombie nobody waits for yet).
bool Gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)),
                   std::istreambuf_iterator<char>());
  if (text.empty()) return true;
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() &&
         text[paren + 2] == 'Z';
}

// `syncstream run` gets `signal` while its commands run: it forwards the
// signal, kills what ignores it after --grace, and exits with 128+signal.
void ExpectSignalStopsEveryCommand(int signal) {
  const std::string pids = TempPath("pids");
  ::unlink(pids.c_str());
  SpawnOptions options;
  options.argv = {
      std::getenv("SYNCSTREAM_BINARY"), "run", "-j", "3", "--grace", "1", "--",
      // Ends on the signal; its child sleep too (it is in the group).
      "sleep 1000 & echo $! >> " + pids + "; echo $$ >> " + pids + "; wait",
      // Ignores the signal, as does its child: killed after the grace.
      "trap '' INT TERM; sleep 1000 & echo $! >> " + pids + "; echo $$ >> " +
          pids + "; wait",
      "sleep 1000", "echo never started"};
  options.stdout_to = FdRedirect::DevNull();
  absl::StatusOr<ChildProcess> run = ChildProcess::Spawn(options);
  ASSERT_TRUE(run.ok()) << run.status();
  std::vector<pid_t> started;
  const absl::Time deadline = ::syncstream::Now() + absl::Seconds(30);
  while (started.size() < 4 && ::syncstream::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    started.clear();
    std::ifstream in(pids);
    for (std::string line; std::getline(in, line);) {
      int pid;
      if (absl::SimpleAtoi(line, &pid)) started.push_back(pid);
    }
  }
  ASSERT_EQ(started.size(), 4u);
  ASSERT_TRUE(run->Kill(signal).ok());
  absl::StatusOr<ExitStatus> status = run->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, ExitStatus::Exited(128 + signal));
  for (pid_t pid : started) {
    const absl::Time until = ::syncstream::Now() + absl::Seconds(20);
    while (!Gone(pid) && ::syncstream::Now() < until) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_TRUE(Gone(pid)) << "pid " << pid << " outlived syncstream run";
    if (!Gone(pid)) ::kill(pid, SIGKILL);
  }
  ::unlink(pids.c_str());
}

TEST(RunCommandTest, SigtermIsForwardedThenCommandsAreKilled) {
  ExpectSignalStopsEveryCommand(SIGTERM);
}

TEST(RunCommandTest, SigintIsForwardedThenCommandsAreKilled) {
  ExpectSignalStopsEveryCommand(SIGINT);
}

TEST(RunCommandTest, HelpListsOwnFlagsAndExitStatuses) {
  Outcome outcome = RunTool({"--help"});
  EXPECT_TRUE(outcome.status.success());
  for (const char* own : {"--j ", "--tag ", "--keep_order ", "--commands ",
                          "--grace ", "128+N"}) {
    EXPECT_NE(outcome.out.find(own), std::string::npos) << own;
  }
  for (const char* other : {"--json", "--listen", "--maxlen", "--orphaned"}) {
    EXPECT_EQ(outcome.out.find(other), std::string::npos) << other;
  }
}

}  // namespace
}  // namespace syncstream
