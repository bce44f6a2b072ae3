#include "syncstream/core/process_identity.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace syncstream {
namespace {

TEST(ProcessIdentityTest, ThisProcessIsAlive) {
  ProcessIdentity self = CurrentProcess();
  EXPECT_EQ(self.pid, ::getpid());
  EXPECT_GT(self.start_time, 0u);
  EXPECT_TRUE(IsProcessAlive(self));
}

TEST(ProcessIdentityTest, ADifferentStartTimeIsAnotherProcess) {
  ProcessIdentity self = CurrentProcess();
  self.start_time += 1;
  EXPECT_FALSE(IsProcessAlive(self));
  EXPECT_FALSE(IsProcessAlive(ProcessIdentity{0, 0}));
  EXPECT_FALSE(IsProcessAlive(ProcessIdentity{-1, 0}));
}

TEST(ProcessIdentityTest, ZombieAndReapedChildrenAreDead) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(pid, 0);
  auto child = IdentifyProcess(pid);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_TRUE(IsProcessAlive(*child));
  EXPECT_NE(CachedPid(), pid);
  ::kill(pid, SIGKILL);
  // Not reaped yet: a zombie, which is dead.
  siginfo_t info;
  ASSERT_EQ(::waitid(P_PID, pid, &info, WEXITED | WNOWAIT), 0);
  EXPECT_FALSE(IsProcessAlive(*child));
  int status;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_FALSE(IsProcessAlive(*child));
  EXPECT_TRUE(absl::IsNotFound(IdentifyProcess(pid).status()));
}

TEST(ProcessIdentityTest, CachedPidIsRefreshedInAForkedChild) {
  const pid_t parent = CachedPid();
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(CachedPid() == ::getpid() && CachedPid() != parent ? 0 : 1);
  int status;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace syncstream
