// The queue library ignores SYNCSTREAM_QUEUE_TEST_HOOK: this test runs with
// it set to stop-holding-lock (BUILD), without the test-only library that
// reads it, and its child's Attach must finish instead of stopping itself.
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "syncstream/queue/sync_queue.h"
#include "syncstream/queue/testing/queue_test_util.h"

namespace syncstream {
namespace {

TEST(TestHookOffTest, EnvironmentVariableCannotStopAnAttach) {
  ASSERT_NE(std::getenv("SYNCSTREAM_QUEUE_TEST_HOOK"), nullptr);
  const std::string name = queue_testing::UniqueQueueName("hook");
  const pid_t child = queue_testing::ForkRun([&] {
    auto q = SyncQueue::Create(name, 4096);
    if (!q.ok()) return 2;
    auto me = q->Attach("me", QueueRole::kBoth);
    return me.ok() ? 0 : 3;
  });
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, WUNTRACED), child);
  if (WIFSTOPPED(status)) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    SyncQueue::Remove(name).IgnoreError();
    FAIL() << "the environment variable stopped the process inside Attach";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(SyncQueue::Open(name).status().code(), absl::StatusCode::kNotFound)
      << "the last close unlinks the queue";
}

}  // namespace
}  // namespace syncstream
