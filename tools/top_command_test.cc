// `syncstream top` on a real queue and a real LineFileBuffer: --json shows
// readers' lag, dead participants, bytes used and per-sender rates; the text
// view refreshes --iterations times.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncstream/core/child_process.h"
#include "syncstream/file/line_file_buffer.h"
#include "syncstream/queue/sync_queue.h"
#include "syncstream/queue/testing/queue_test_util.h"
#include "tools/testing/run_tool.h"

namespace syncstream::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::string binary;

TEST(TopCommandTest, QueueJsonShowsLagDeadParticipantsAndBytes) {
  const std::string name = queue_testing::UniqueQueueName("top");
  auto q = SyncQueue::Create(name, 4096);
  ASSERT_TRUE(q.ok()) << q.status();
  auto writer = q->Attach("writer", QueueRole::kWriter);
  auto reader = q->Attach("slow-reader", QueueRole::kReader);
  ASSERT_TRUE(writer.ok() && reader.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer->Append("t", "m").ok());
  // A participant whose process is gone.
  const pid_t child = queue_testing::ForkRun([&] {
    auto again = SyncQueue::Open(name);
    if (!again.ok()) return 1;
    auto attached = again->Attach("doomed", QueueRole::kReader);
    if (!attached.ok()) return 1;
    ::pause();
    return 0;
  });
  ASSERT_TRUE(queue_testing::WaitUntil(
      [&] { return q->Inspect()->participants.size() == 3; }, absl::Seconds(20)));
  queue_testing::KillAndReap(child);

  testing::ToolOutcome top = testing::RunTool(
      {binary, "top", "queue:" + name, "--json", "--interval", "0.1"});
  EXPECT_TRUE(top.status.success()) << top.err;
  EXPECT_THAT(top.out, HasSubstr("\"kind\":\"queue\""));
  EXPECT_THAT(top.out, HasSubstr("{\"name\":\"slow-reader\",\"alive\":true,"
                                 "\"lag_messages\":3,"));
  EXPECT_THAT(top.out, HasSubstr("{\"name\":\"doomed\",\"alive\":false,"));
  EXPECT_THAT(top.out, HasSubstr("\"dead_participants\":1,"));
  EXPECT_THAT(top.out, HasSubstr("\"capacity_bytes\":4096,"));
  EXPECT_THAT(top.out, HasSubstr("\"senders\":null"));  // not counted per writer
  EXPECT_THAT(top.out, MatchesRegex(".*\"used_bytes\":[1-9][0-9]*,.*"));

  testing::ToolOutcome text = testing::RunTool(
      {binary, "top", "queue:" + name, "--iterations", "2", "--interval", "0.05"});
  EXPECT_TRUE(text.status.success()) << text.err;
  EXPECT_THAT(text.out, MatchesRegex("queue queue:[^\n]* lines/s\n(.*\n)*\nqueue "
                                     "queue:[^\n]* lines/s\n(.*\n)*"));
  EXPECT_THAT(text.out, HasSubstr("slow-reader"));
  EXPECT_THAT(text.out, HasSubstr("dead participants: 1"));
  SyncQueue::Remove(name).IgnoreError();
}

TEST(TopCommandTest, FileBufferJsonCountsLinesPerSender) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/top-", ::getpid());
  {
    file::LineFileBufferOptions options;
    auto buffer = file::LineFileBuffer::Open(dir, options);
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    (*buffer)->stream() << "before top\n";
    ASSERT_TRUE((*buffer)->Commit().ok());
  }
  // Commits a line every few milliseconds until killed, as "busy-writer".
  absl::StatusOr<ChildProcess> writer = ChildProcess::Fork([dir] {
    file::LineFileBufferOptions options;
    options.writer.name = "busy-writer";
    auto buffer = file::LineFileBuffer::Open(dir, options);
    if (!buffer.ok()) return 1;
    for (;;) {
      (*buffer)->stream() << "line\n";
      if (!(*buffer)->Commit().ok()) return 2;
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  ASSERT_TRUE(writer.ok()) << writer.status();
  testing::ToolOutcome top = testing::RunTool(
      {binary, "top", "file:" + dir, "--json", "--interval", "0.5"});
  writer->Kill(SIGKILL).IgnoreError();
  EXPECT_TRUE(top.status.success()) << top.err;
  EXPECT_THAT(top.out, HasSubstr("\"kind\":\"file\""));
  EXPECT_THAT(top.out, MatchesRegex(".*\"senders\":\\[\\{\"name\":\"busy-writer\","
                                    "\"lines_per_second\":[0-9.e+]+\\}\\].*"));
  EXPECT_THAT(top.out, MatchesRegex(".*\"records_held\":[1-9][0-9]*,.*"));
  EXPECT_THAT(top.out, HasSubstr("\"dead_participants\":0,"));
}

TEST(TopCommandTest, UnknownTargetsAndBadFlags) {
  testing::ToolOutcome missing = testing::RunTool(
      {binary, "top", "queue:no-such-queue-for-top", "--json"});
  EXPECT_EQ(missing.status, ExitStatus::Exited(1));
  EXPECT_THAT(missing.err, HasSubstr("no-such-queue-for-top"));
  EXPECT_EQ(testing::RunTool({binary, "top"}).status, ExitStatus::Exited(2));
  EXPECT_EQ(testing::RunTool({binary, "top", "queue:x", "--interval", "0"}).status,
            ExitStatus::Exited(2));
}

}  // namespace
}  // namespace syncstream::tools

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) return 2;
  syncstream::tools::binary = argv[1];
  return RUN_ALL_TESTS();
}
