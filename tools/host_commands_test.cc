// `syncstream serve / send / read` as real processes: read shows sender and
// time when asked (--format), joins a line longer than 64 KiB, escapes
// control characters unless --raw, and filters by sender.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/deadline.h"
#include "syncstream/net/testing/test_server.h"
#include "tools/testing/run_tool.h"

namespace syncstream::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::string binary;

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `syncstream ARGS...` with `input` on stdin.
Outcome RunTool(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), binary);
  testing::ToolOutcome outcome = testing::RunTool(args, input);
  return {outcome.status.exited ? outcome.status.code : -1, outcome.out,
          outcome.err};
}

class HostCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    address_ = net::testing::UniqueUnixAddress().ToString();
    SpawnOptions options;
    options.argv = {binary, "serve", "--listen", address_};
    options.stdout_to = FdRedirect::DevNull();
    absl::StatusOr<ChildProcess> server = ChildProcess::Spawn(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    const absl::Time deadline = ::syncstream::Now() + absl::Seconds(20);
    while (RunTool({"read", address_}).code != 0) {
      ASSERT_LT(::syncstream::Now(), deadline) << "serve did not start";
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  void TearDown() override {
    if (server_.valid()) {
      server_.Kill(SIGTERM).IgnoreError();
      server_.Wait(absl::Seconds(20)).IgnoreError();
    }
  }

  void Send(const std::string& sender, const std::string& lines) {
    Outcome sent = RunTool({"send", address_, "--send_as", sender}, lines);
    ASSERT_EQ(sent.code, 0) << sent.err;
  }

  std::string address_;
  ChildProcess server_;
};

TEST_F(HostCommandsTest, ALineLongerThan64KiBIsReadWhole) {
  const std::string big(70000, 'x');
  Send("big", big + "\nafter\n");
  Outcome read = RunTool({"read", address_, "-n", "0"});
  ASSERT_EQ(read.code, 0) << read.err;
  std::vector<std::string> lines = absl::StrSplit(read.out, '\n');
  ASSERT_EQ(lines.size(), 3u);  // the big line, "after", ""
  EXPECT_TRUE(lines[0] == big) << lines[0].size() << " bytes";
  EXPECT_EQ(lines[1], "after");
}

TEST_F(HostCommandsTest, FormatsShowSenderAndTime) {
  Send("build-42", "one\n");
  Send("other", "two\n");
  Outcome text = RunTool({"read", address_});
  EXPECT_EQ(text.out, "one\ntwo\n");
  Outcome tagged = RunTool({"read", address_, "--format=tagged"});
  EXPECT_THAT(tagged.out,
              MatchesRegex("20[0-9-]+T[0-9:]+\\.[0-9]{6}Z build-42: one\n"
                           "20[0-9-]+T[0-9:]+\\.[0-9]{6}Z other: two\n"));
  Outcome json = RunTool({"read", address_, "--format", "json", "--sender",
                          "build-42"});
  EXPECT_THAT(json.out, MatchesRegex("\\{\"kind\":\"line\",\"sender\":"
                                     "\"build-42\",\"type\":\"\",\"sequence\":"
                                     "[0-9]+,\"time\":\"[^\"]+\",\"time_unix_"
                                     "nanos\":[0-9]+,\"text\":\"one\",\"trace\":"
                                     "\\[\\],\"continued\":false\\}\n"));
  Outcome bad = RunTool({"read", address_, "--format=xml"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--format 'xml'"));
  Outcome since = RunTool({"read", address_, "--since", "1h"});
  EXPECT_EQ(since.out, "one\ntwo\n");
  since = RunTool({"read", address_, "--since", "2999-01-01T00:00:00Z"});
  EXPECT_EQ(since.out, "");
}

TEST_F(HostCommandsTest, ControlCharactersAreEscapedUnlessRaw) {
  Send("evil\x1b]0;TITLE\x07", "\x1b[31mRED\n");
  Outcome read = RunTool({"read", address_, "--format=tagged"});
  EXPECT_THAT(read.out, HasSubstr(" evil\\x1b]0;TITLE\\x07: \\x1b[31mRED\n"));
  EXPECT_EQ(read.out.find('\x1b'), std::string::npos);
  Outcome raw = RunTool({"read", address_, "--raw"});
  EXPECT_EQ(raw.out, "\x1b[31mRED\n");
}

}  // namespace
}  // namespace syncstream::tools

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) return 2;
  syncstream::tools::binary = argv[1];
  return RUN_ALL_TESTS();
}
