// `syncstream run`, exercised through the real binary.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "syncstream/core/child_process.h"

namespace syncstream {
namespace {

struct Outcome {
  ExitStatus status;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name + "." +
         std::to_string(::getpid());
}

// Runs `syncstream run ARGS...` with `input` on stdin.
Outcome RunTool(std::vector<std::string> args, const std::string& input = "") {
  std::string in_path = TempPath("in"), out_path = TempPath("out"),
              err_path = TempPath("err");
  std::ofstream(in_path) << input;
  int in = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0600);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0600);
  SpawnOptions options;
  options.argv = {std::getenv("SYNCSTREAM_BINARY"), "run"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdin_from = FdRedirect::To(in);
  options.stdout_to = FdRedirect::To(out);
  options.stderr_to = FdRedirect::To(err);
  Outcome outcome;
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(options);
  ::close(in);
  ::close(out);
  ::close(err);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return outcome;
  absl::StatusOr<ExitStatus> status = child->Wait(absl::Seconds(60));
  EXPECT_TRUE(status.ok()) << status.status();
  if (status.ok()) outcome.status = *status;
  outcome.out = ReadFile(out_path);
  outcome.err = ReadFile(err_path);
  ::unlink(in_path.c_str());
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return outcome;
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

}  // namespace
}  // namespace syncstream
