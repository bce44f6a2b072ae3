// `syncstream file tail/inspect/unlock`, run as a real process on a buffer
// written by LineFileBuffer.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/deadline.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/file/line_file_buffer.h"
#include "syncstream/file/lock_file.h"

namespace syncstream::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string g_binary;

struct RunResult {
  int exit_code = -1;
  std::string out;
};

// Runs the syncstream binary with `args`, stdout and stderr captured, within
// a deadline.
RunResult RunTool(const std::vector<std::string>& args) {
  RunResult result;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return result;
  UniqueFd read_end(fds[0]);
  SpawnOptions options;
  options.argv = {g_binary};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdout_to = FdRedirect::To(fds[1]);
  options.stderr_to = FdRedirect::To(fds[1]);
  auto child = ChildProcess::Spawn(options);
  ::close(fds[1]);
  if (!child.ok()) {
    result.out = child.status().ToString();
    return result;
  }
  const absl::Time deadline = ::syncstream::Now() + absl::Seconds(30);
  char buf[4096];
  while (::syncstream::Now() < deadline) {
    struct pollfd p = {read_end.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::read(read_end.get(), buf, sizeof(buf));
    if (n <= 0) break;
    result.out.append(buf, n);
  }
  auto status = child->Wait(TimeLeft(deadline));
  if (status.ok() && status->exited) result.exit_code = status->code;
  return result;
}

std::string NewBuffer(int lines) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/cli-", ::getpid(), "-",
                                 file::RandomNonce() % 1000000);
  file::LineFileBufferOptions options;
  options.maxlen = 100;
  auto buffer = file::LineFileBuffer::Open(dir, options);
  EXPECT_TRUE(buffer.ok());
  for (int i = 0; i < lines; ++i) (*buffer)->stream() << "line " << i << "\n";
  EXPECT_TRUE((*buffer)->Commit().ok());
  return dir;
}

TEST(FileCommandsTest, TailPrintsTheLastLines) {
  std::string dir = NewBuffer(20);
  RunResult r = RunTool({"file", "tail", dir, "-n", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "line 17\nline 18\nline 19\n");
  r = RunTool({"file", "tail", dir + "/missing"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("no such directory"));
}

TEST(FileCommandsTest, TailFollowsNewLines) {
  std::string dir = NewBuffer(1);
  // Another writer commits while tail -f runs for 2 s.
  auto writer = ChildProcess::Fork([dir] {
    absl::SleepFor(absl::Milliseconds(300));
    file::LineFileBufferOptions options;
    auto buffer = file::LineFileBuffer::Open(dir, options);
    if (!buffer.ok()) return 2;
    (*buffer)->stream() << "later\n";
    return (*buffer)->Commit().ok() ? 0 : 3;
  });
  ASSERT_TRUE(writer.ok()) << writer.status();
  RunResult r =
      RunTool({"file", "tail", dir, "-f", "--file_follow_seconds=2"});
  auto status = writer->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->success()) << status->ToString();
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "line 0\nlater\n");
}

TEST(FileCommandsTest, InspectShowsSegmentsAndLock) {
  std::string dir = NewBuffer(5);
  RunResult r = RunTool({"file", "inspect", dir, "--json"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("\"records_on_disk\":5"));
  EXPECT_THAT(r.out, HasSubstr("\"lock\":null"));
  file::LockFile lock(file::LineFileBuffer::LockPath(dir),
                      {"inspect-host", absl::Seconds(30)});
  auto held = lock.Acquire(absl::Seconds(5));
  ASSERT_TRUE(held.ok());
  r = RunTool({"file", "inspect", dir});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("5 records from index 0"));
  EXPECT_THAT(r.out, HasSubstr("held by inspect-host"));
  EXPECT_THAT(r.out, HasSubstr("live"));
}

TEST(FileCommandsTest, UnlockRefusesALiveLockUnlessForced) {
  std::string dir = NewBuffer(1);
  const std::string path = file::LineFileBuffer::LockPath(dir);
  file::LockFile lock(path, {"live-host", absl::Seconds(30)});
  auto held = lock.Acquire(absl::Seconds(5));
  ASSERT_TRUE(held.ok());
  RunResult r = RunTool({"file", "unlock", dir});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("not stale"));
  EXPECT_TRUE(file::LockFile::Inspect(path).present);
  r = RunTool({"file", "unlock", dir, "--force"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_FALSE(file::LockFile::Inspect(path).present);
}

TEST(FileCommandsTest, UnlockRemovesAStaleLock) {
  std::string dir = NewBuffer(1);
  const std::string path = file::LineFileBuffer::LockPath(dir);
  file::LockHolder dead;
  dead.host = "dead-host";
  dead.pid = 1;
  dead.heartbeat = ::syncstream::Now() - absl::Minutes(5);
  dead.lease = absl::Seconds(2);
  std::string bytes = file::EncodeLockHolder(dead);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()),
            static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  RunResult r = RunTool({"file", "inspect", dir, "--json"});
  EXPECT_THAT(r.out, HasSubstr("\"stale\":true"));
  EXPECT_THAT(r.out, HasSubstr("\"host\":\"dead-host\""));
  r = RunTool({"file", "unlock", dir});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_FALSE(file::LockFile::Inspect(path).present);
  EXPECT_THAT(RunTool({"file", "inspect", dir}).out, Not(HasSubstr("STALE")));
}

}  // namespace
}  // namespace syncstream::tools

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: file_commands_test PATH_TO_SYNCSTREAM\n");
    return 2;
  }
  syncstream::tools::g_binary = argv[1];
  return RUN_ALL_TESTS();
}
