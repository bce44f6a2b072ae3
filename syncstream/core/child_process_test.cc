#include "syncstream/core/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream {
namespace {

using ::testing::HasSubstr;

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

SpawnOptions Command(std::vector<std::string> argv) {
  SpawnOptions options;
  options.argv = std::move(argv);
  return options;
}

Pipe MakePipe() {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0) << strerror(errno);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Everything readable from `fd` until EOF; fails the test at the deadline.
std::string ReadUntilEof(int fd, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = DeadlineAfter(timeout);
  std::string out;
  char buf[4096];
  while (true) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int ms = static_cast<int>(absl::ToInt64Milliseconds(TimeLeft(deadline)));
    int rc = poll(&pfd, 1, ms);
    if (rc == 0) {
      ADD_FAILURE() << "no EOF on fd " << fd << " within " << timeout;
      return out;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, n);
  }
}

TEST(ExitStatusTest, ToString) {
  EXPECT_EQ(ExitStatus::Exited(3).ToString(), "exited with status 3");
  EXPECT_EQ(ExitStatus::Signaled(9).ToString(), "killed by signal 9 (Killed)");
  EXPECT_TRUE(ExitStatus::Exited(0).success());
  EXPECT_FALSE(ExitStatus::Exited(1).success());
  EXPECT_FALSE(ExitStatus::Signaled(15).success());
}

TEST(ChildProcessTest, ForkReportsExitCode) {
  auto child = ChildProcess::Fork([] { return 3; });
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_GT(child->pid(), 0);
  auto status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, ExitStatus::Exited(3));
  EXPECT_TRUE(child->reaped());
  // Waiting again returns the same status.
  auto again = child->Wait(absl::ZeroDuration());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, ExitStatus::Exited(3));
}

TEST(ChildProcessTest, ForkReportsDeathBySignal) {
  auto child = ChildProcess::Fork([] {
    raise(SIGKILL);
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  auto status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->signaled);
  EXPECT_EQ(status->signal, SIGKILL);
  EXPECT_EQ(status->ToString(), "killed by signal 9 (Killed)");
}

TEST(ChildProcessTest, ForkedChildDoesNotReturnIntoParent) {
  // If the child returned from Fork, it would reach the write below too.
  Pipe p = MakePipe();
  int marker_fd = p.write.get();
  auto child = ChildProcess::Fork([] { return 0; });
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(child->Wait(absl::Seconds(10)).ok());
  ASSERT_EQ(write(marker_fd, "p", 1), 1);
  p.write.Reset();
  EXPECT_EQ(ReadUntilEof(p.read.get()), "p");
}

TEST(ChildProcessTest, WaitTimesOutNamingThePidThenKill) {
  Pipe block = MakePipe();
  auto child = ChildProcess::Fork([&] {
    char c;
    // Blocks until killed: the parent never writes.
    (void)!read(block.read.get(), &c, 1);
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  auto status = child->Wait(absl::Milliseconds(50));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(status.status().message()),
              HasSubstr(absl::StrCat(child->pid())));

  auto running = child->TryWait();
  ASSERT_TRUE(running.ok());
  EXPECT_FALSE(running->has_value());

  ASSERT_TRUE(child->Kill(SIGTERM).ok());
  status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, ExitStatus::Signaled(SIGTERM));

  // The pid is no longer ours to signal.
  absl::Status kill = child->Kill(SIGTERM);
  EXPECT_EQ(kill.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ChildProcessTest, TryWaitSeesTheEnd) {
  Pipe go = MakePipe();
  auto child = ChildProcess::Fork([&] {
    char c;
    return read(go.read.get(), &c, 1) == 1 ? 7 : 1;
  });
  ASSERT_TRUE(child.ok());
  auto first = child->TryWait();
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
  ASSERT_EQ(write(go.write.get(), "x", 1), 1);
  // Wait for the end with a deadline, then TryWait must report it.
  ASSERT_TRUE(child->Wait(absl::Seconds(10)).ok());
  auto done = child->TryWait();
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ(**done, ExitStatus::Exited(7));
}

TEST(ChildProcessTest, DestructorKillsAndReapsARunningChild) {
  Pipe alive = MakePipe();
  pid_t pid;
  {
    auto child = ChildProcess::Fork([&] {
      // Holds the write end open until it dies.
      pause();
      return 0;
    });
    ASSERT_TRUE(child.ok());
    pid = child->pid();
    alive.write.Reset();  // only the child holds it now
  }
  // The child is dead (its pipe end closed) ...
  EXPECT_EQ(ReadUntilEof(alive.read.get(), absl::Seconds(5)), "");
  // ... and reaped: it is no longer our child.
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ChildProcessTest, MoveTransfersOwnership) {
  auto child = ChildProcess::Fork([] { return 5; });
  ASSERT_TRUE(child.ok());
  pid_t pid = child->pid();
  ChildProcess owner = *std::move(child);
  EXPECT_EQ(owner.pid(), pid);
  ChildProcess other;
  EXPECT_FALSE(other.valid());
  EXPECT_EQ(other.Wait(absl::ZeroDuration()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  other = std::move(owner);
  EXPECT_EQ(owner.pid(), -1);  // NOLINT: moved-from is empty by contract
  auto status = other.Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, ExitStatus::Exited(5));
}

TEST(ChildProcessTest, SpawnReportsExitCode) {
  auto child = ChildProcess::Spawn(Command({"/bin/sh", "-c", "exit 3"}));
  ASSERT_TRUE(child.ok()) << child.status();
  auto status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->ToString(), "exited with status 3");
}

TEST(ChildProcessTest, SpawnSearchesPathAndPassesEnvironment) {
  Pipe out = MakePipe();
  SpawnOptions options;
  options.argv = {"sh", "-c", "printf '%s|%s' \"$SYNCSTREAM_A\" \"$HOME\""};
  options.env = {{"SYNCSTREAM_A", "alpha beta"}, {"HOME", "/nowhere"}};
  options.stdout_to = FdRedirect::To(out.write.get());
  auto child = ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  out.write.Reset();
  EXPECT_EQ(ReadUntilEof(out.read.get()), "alpha beta|/nowhere");
  auto status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->success()) << status->ToString();
}

TEST(ChildProcessTest, SpawnWithClearedEnvironment) {
  Pipe out = MakePipe();
  SpawnOptions options;
  options.argv = {"/usr/bin/env"};
  options.clear_env = true;
  options.env = {{"ONLY", "this"}};
  options.stdout_to = FdRedirect::To(out.write.get());
  auto child = ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  out.write.Reset();
  EXPECT_EQ(ReadUntilEof(out.read.get()), "ONLY=this\n");
  ASSERT_TRUE(child->Wait(absl::Seconds(10)).ok());
}

TEST(ChildProcessTest, SpawnRedirectsStandardDescriptors) {
  Pipe out = MakePipe();
  Pipe err = MakePipe();
  SpawnOptions options;
  // stdin is /dev/null, so cat ends at once and prints nothing.
  options.argv = {"/bin/sh", "-c", "cat; echo out; echo err >&2"};
  options.stdin_from = FdRedirect::DevNull();
  options.stdout_to = FdRedirect::To(out.write.get());
  options.stderr_to = FdRedirect::To(err.write.get());
  auto child = ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  out.write.Reset();
  err.write.Reset();
  EXPECT_EQ(ReadUntilEof(out.read.get()), "out\n");
  EXPECT_EQ(ReadUntilEof(err.read.get()), "err\n");
  auto status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->success());
}

TEST(ChildProcessTest, SpawnStderrToStdoutAndDevNull) {
  Pipe out = MakePipe();
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "echo one; echo two >&2"};
  options.stdout_to = FdRedirect::To(out.write.get());
  options.stderr_to = FdRedirect::To(1);  // 2>&1
  auto child = ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  out.write.Reset();
  EXPECT_EQ(ReadUntilEof(out.read.get()), "one\ntwo\n");
  ASSERT_TRUE(child->Wait(absl::Seconds(10)).ok());

  Pipe none = MakePipe();
  options.stdout_to = FdRedirect::DevNull();
  options.stderr_to = FdRedirect::DevNull();
  child = ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(child->Wait(absl::Seconds(10)).ok());
}

TEST(ChildProcessTest, SpawnKeepsInheritedCloseOnExecDescriptor) {
  Pipe extra = MakePipe();  // O_CLOEXEC
  const int fd = extra.write.get();
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", absl::StrCat("echo kept >&", fd)};
  options.inherit_fds = {fd};
  auto child = ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  extra.write.Reset();
  EXPECT_EQ(ReadUntilEof(extra.read.get()), "kept\n");
  auto status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->success()) << status->ToString();
}

TEST(ChildProcessTest, SpawnedChildIsKilledByDestructorAndSignals) {
  auto child = ChildProcess::Spawn(Command({"/bin/sleep", "60"}));
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(child->Kill(SIGKILL).ok());
  auto status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->ToString(), "killed by signal 9 (Killed)");

  pid_t pid;
  {
    auto sleeper = ChildProcess::Spawn(Command({"/bin/sleep", "60"}));
    ASSERT_TRUE(sleeper.ok());
    pid = sleeper->pid();
  }
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ChildProcessTest, SpawnErrorsNameTheProgram) {
  auto missing = ChildProcess::Spawn(Command({"/no/such/program"}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("/no/such/program"));

  auto not_in_path =
      ChildProcess::Spawn(Command({"syncstream-no-such-command"}));
  EXPECT_FALSE(not_in_path.ok());

  EXPECT_EQ(ChildProcess::Spawn(SpawnOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);

  SpawnOptions bad_fd;
  bad_fd.argv = {"/bin/true"};
  bad_fd.stdout_to = FdRedirect::To(987);
  auto bad = ChildProcess::Spawn(bad_fd);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("987"));
}

TEST(ChildProcessTest, SpawnedProgramGetsDefaultSignalDispositions) {
  // Even though this process ignores SIGTERM, the program does not.
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGTERM, &ignore, &old), 0);
  auto child = ChildProcess::Spawn(Command({"/bin/sleep", "60"}));
  sigaction(SIGTERM, &old, nullptr);
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(child->Kill(SIGTERM).ok());
  auto status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, ExitStatus::Signaled(SIGTERM));
}

}  // namespace
}  // namespace syncstream
