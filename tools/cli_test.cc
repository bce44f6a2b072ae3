// The conventions every `syncstream` command follows, checked on the real
// binary (argv[1]) for every command it lists: usage errors exit with 2,
// --help lists the command's own flags only, a group lists its commands.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncstream/core/child_process.h"
#include "syncstream/file/line_file_buffer.h"
#include "tools/command.h"
#include "tools/testing/run_tool.h"

namespace syncstream::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string binary;

struct Result {
  int code = -1;
  std::string out;  // stdout and stderr
};

Result RunCli(const std::string& args) {
  Result r;
  FILE* p = ::popen(
      ("timeout 20 " + binary + " " + args + " </dev/null 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), p)) > 0) {
    r.out.append(buffer, n);
  }
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The commands `syncstream --help` lists ("queue ls", "run", ...).
std::vector<std::string> ListedCommands() {
  std::vector<std::string> words;
  bool in_list = false;
  for (absl::string_view line : absl::StrSplit(RunCli("--help").out, '\n')) {
    if (line == "commands:") {
      in_list = true;
    } else if (in_list && absl::ConsumePrefix(&line, "  ")) {
      words.emplace_back(line.substr(0, line.find("  ")));
    } else if (in_list) {
      break;
    }
  }
  return words;
}

// The flags a command's --help lists ("--name").
std::vector<std::string> HelpFlags(const std::string& help) {
  std::vector<std::string> flags;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (absl::ConsumePrefix(&line, "  --")) {
      flags.push_back(std::string(line.substr(0, line.find(' '))));
    }
  }
  return flags;
}

TEST(CliTest, EveryCommandIsListed) {
  const std::vector<std::string> words = ListedCommands();
  EXPECT_GE(words.size(), 15u);
  EXPECT_THAT(words, ::testing::Contains("queue ls"));
  EXPECT_THAT(words, ::testing::Contains("run"));
}

TEST(CliTest, EveryCommandExitsWith2OnAnUnknownFlag) {
  for (const std::string& words : ListedCommands()) {
    Result r = RunCli(words + " --no_such_flag");
    EXPECT_EQ(r.code, 2) << words << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("unknown flag --no_such_flag")) << words;
    EXPECT_THAT(r.out, HasSubstr("usage: syncstream " + words)) << words;
  }
}

TEST(CliTest, AnotherCommandsFlagIsAUsageError) {
  for (const char* args :
       {"queue ls --orphaned", "serve --send_as x", "manager ls ADDR -f",
        "file inspect /tmp --force", "read ADDR --store /tmp",
        "queue tail q -j 3"}) {
    Result r = RunCli(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("not a flag of this command")) << args;
  }
}

TEST(CliTest, ABadValueIsAUsageError) {
  for (const char* args : {"queue tail q -n abc", "serve --maxlen=x",
                           "file tail /tmp -n", "run --grace soon -- true"}) {
    Result r = RunCli(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
  }
}

TEST(CliTest, HelpListsTheCommandsOwnFlagsOnly) {
  for (const std::string& words : ListedCommands()) {
    Result r = RunCli(words + " --help");
    EXPECT_EQ(r.code, 0) << words;
    const std::string usage_line = r.out.substr(0, r.out.find('\n'));
    for (const std::string& flag : HelpFlags(r.out)) {
      // Named in the usage line, as --flag or -flag.
      EXPECT_THAT(usage_line, HasSubstr("-" + flag)) << words;
    }
    EXPECT_THAT(r.out, HasSubstr("exit status:")) << words;
  }
  const std::string serve = RunCli("serve --help").out;
  EXPECT_THAT(serve, HasSubstr("--store"));
  EXPECT_THAT(serve, HasSubstr("--sync_store"));
  EXPECT_THAT(serve, Not(HasSubstr("--send_as")));
  EXPECT_THAT(serve, Not(HasSubstr("--control_clear")));
  const std::string ls = RunCli("queue ls --help").out;
  EXPECT_THAT(ls, HasSubstr("--json"));
  EXPECT_THAT(ls, Not(HasSubstr("--orphaned")));
}

TEST(CliTest, ManagerServeHelpGivesItsOwnDefaultPort) {
  const std::string help = RunCli("manager serve --help").out;
  EXPECT_THAT(help, HasSubstr("tcp:127.0.0.1:7710"));
  EXPECT_THAT(help, Not(HasSubstr("default: \"tcp:127.0.0.1:7700\"")));
}

TEST(CliTest, AGroupListsItsCommands) {
  for (const char* group : {"queue", "queue --help", "file", "manager"}) {
    Result r = RunCli(group);
    EXPECT_EQ(r.code, 0) << group << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("usage: syncstream ")) << group;
  }
  Result queue = RunCli("queue");
  for (const char* listed : {"queue ls", "queue inspect", "queue tail",
                             "queue append", "queue repair", "queue rm"}) {
    EXPECT_THAT(queue.out, HasSubstr(listed));
  }
  EXPECT_THAT(queue.out, Not(HasSubstr("file tail")));
  Result unknown = RunCli("queue bogus");
  EXPECT_EQ(unknown.code, 2) << unknown.out;
  EXPECT_THAT(unknown.out, HasSubstr("unknown command 'queue bogus'"));
  EXPECT_THAT(unknown.out, HasSubstr("queue ls"));
  EXPECT_EQ(RunCli("bogus").code, 2);
}

// file tail's records go through the same output as read's and queue
// tail's (their own tests cover the rest).
TEST(CliTest, FileTailFormatsJoinsLongLinesAndEscapes) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/cli-file-", ::getpid());
  {
    file::LineFileBufferOptions options;
    auto buffer = file::LineFileBuffer::Open(dir, options);
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    (*buffer)->stream() << std::string(70000, 'x') << "\n"
                        << "red \x1b[31m\n";
    ASSERT_TRUE((*buffer)->Commit().ok());
  }
  Result text = RunCli("file tail " + dir + " -n 0 --color=always");
  EXPECT_EQ(text.code, 0) << text.out.substr(0, 200);
  EXPECT_TRUE(text.out == std::string(70000, 'x') + "\nred \\x1b[31m\n")
      << text.out.size() << " bytes";
  Result tagged = RunCli("file tail " + dir + " -n 1 --format=tagged");
  EXPECT_THAT(tagged.out, ::testing::MatchesRegex(
                              "20[0-9-]+T[0-9:.]+Z [^ ]+: red \\\\x1b\\[31m\n"));
  Result json = RunCli("file tail " + dir + " -n 0 --format=json");
  EXPECT_EQ(std::count(json.out.begin(), json.out.end(), '\n'), 2) << json.out.size();
  EXPECT_THAT(json.out, HasSubstr("\"text\":\"red \\u001b[31m\"")) ;
  EXPECT_EQ(RunCli("file tail " + dir + " --format=yaml").code, 2);
}

// What `syncstream ARGS` writes to a terminal (a pseudo-terminal as its
// stdout), with NO_COLOR set to `no_color`.
std::string OnATerminal(const std::vector<std::string>& args,
                        const std::string& no_color) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
    ADD_FAILURE() << "no pseudo-terminal";
    return "";
  }
  const int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  SpawnOptions options;
  options.argv = {binary};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.env = {{"NO_COLOR", no_color}};
  options.stdout_to = FdRedirect::To(slave);
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(options);
  ::close(slave);
  EXPECT_TRUE(child.ok()) << child.status();
  std::string out;
  if (child.ok()) {
    EXPECT_TRUE(child->Wait(absl::Seconds(30)).ok());
    char buffer[4096];
    for (;;) {  // EIO once the slave side is closed and drained
      struct pollfd p = {master, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) break;
      const ssize_t n = ::read(master, buffer, sizeof(buffer));
      if (n <= 0) break;
      out.append(buffer, n);
    }
  }
  ::close(master);
  return out;
}

TEST(CliTest, ColourOnlyOnATerminalAndNotWithNoColor) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir =
      absl::StrCat(tmp ? tmp : "/tmp", "/cli-colour-", ::getpid());
  {
    file::LineFileBufferOptions options;
    auto buffer = file::LineFileBuffer::Open(dir, options);
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    (*buffer)->stream() << "plain\n";
    ASSERT_TRUE((*buffer)->SendError("it broke").ok());
    ASSERT_TRUE((*buffer)->Commit().ok());
  }
  const std::vector<std::string> tail = {"file", "tail", dir, "--format=tagged"};
  const std::string colour = OnATerminal(tail, "");  // empty: as if unset
  EXPECT_THAT(colour, HasSubstr("\x1b[1;31mError: it broke\x1b[0m")) << colour;
  EXPECT_THAT(colour, ::testing::ContainsRegex("Z \x1b\\[[0-9;]+mwriter\x1b\\[0m: plain"));
  const std::string plain = OnATerminal(tail, "1");
  EXPECT_THAT(plain, HasSubstr("Error: it broke"));
  EXPECT_EQ(plain.find('\x1b'), std::string::npos) << plain;
  // Not a terminal: no colour unless --color=always.
  testing::ToolOutcome piped = testing::RunTool({binary, "file", "tail", dir});
  EXPECT_EQ(piped.out.find('\x1b'), std::string::npos);
  testing::ToolOutcome always =
      testing::RunTool({binary, "file", "tail", dir, "--color=always"});
  EXPECT_THAT(always.out, HasSubstr("\x1b[1;31mError from writer: it broke"));
}

TEST(CliTest, FileCommandsEscapeAPlantedDirectoryName) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/evil\x1b]0;TITLE\x07-",
                                       ::getpid());
  {
    file::LineFileBufferOptions options;
    auto buffer = file::LineFileBuffer::Open(dir, options);
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    (*buffer)->stream() << "line\n";
    ASSERT_TRUE((*buffer)->Commit().ok());
  }
  for (const char* command : {"inspect", "tail"}) {
    testing::ToolOutcome r = testing::RunTool({binary, "file", command, dir});
    EXPECT_TRUE(r.status.success()) << command << ": " << r.err;
    EXPECT_EQ((r.out + r.err).find('\x1b'), std::string::npos) << command;
  }
  testing::ToolOutcome inspect = testing::RunTool({binary, "file", "inspect", dir});
  EXPECT_THAT(inspect.out, HasSubstr("evil\\x1b]0;TITLE\\x07-"));
  testing::ToolOutcome missing =
      testing::RunTool({binary, "file", "tail", dir + "/\x1b[31mgone"});
  EXPECT_EQ(missing.status, ExitStatus::Exited(2));
  EXPECT_THAT(missing.err, HasSubstr("/\\x1b[31mgone"));
}

// Linked with every command group: no flag is defined that no command takes.
TEST(CliTest, EveryDefinedFlagIsTakenBySomeCommand) {
  EXPECT_GE(Commands().size(), 15u);
  EXPECT_THAT(FlagsNoCommandTakes(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace syncstream::tools

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) return 2;
  syncstream::tools::binary = argv[1];
  return RUN_ALL_TESTS();
}
