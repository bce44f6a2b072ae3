// `syncstream file tail/inspect/unlock`, run as a real process on a buffer
// written by LineFileBuffer.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

// The syncstream binary running with `args`, stdout and stderr into one
// pipe that the test reads.
class Tool {
 public:
  explicit Tool(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    read_end_ = UniqueFd(fds[0]);
    SpawnOptions options;
    options.argv = {g_binary};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.stdout_to = FdRedirect::To(fds[1]);
    options.stderr_to = FdRedirect::To(fds[1]);
    auto child = ChildProcess::Spawn(options);
    ::close(fds[1]);
    if (!child.ok()) {
      out_ = child.status().ToString();
      return;
    }
    child_ = *std::move(child);
  }

  ChildProcess& child() { return child_; }
  const std::string& out() const { return out_; }

  // Reads until the output holds `text` (true) or until end of output or
  // `deadline` (false).
  bool ReadUntil(absl::string_view text, absl::Time deadline) {
    while (!absl::StrContains(out_, text)) {
      if (!ReadSome(deadline)) return false;
    }
    return true;
  }

  // Reads to the end of the output, then waits for the exit.
  RunResult Finish(absl::Time deadline) {
    while (ReadSome(deadline)) {
    }
    RunResult result;
    result.out = out_;
    if (child_.valid()) {
      auto status = child_.Wait(TimeLeft(deadline));
      if (status.ok() && status->exited) result.exit_code = status->code;
    }
    return result;
  }

 private:
  bool ReadSome(absl::Time deadline) {
    char buf[65536];
    while (read_end_ && ::syncstream::Now() < deadline) {
      struct pollfd p = {read_end_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::read(read_end_.get(), buf, sizeof(buf));
      if (n <= 0) return false;
      out_.append(buf, n);
      return true;
    }
    return false;
  }

  UniqueFd read_end_;
  ChildProcess child_;
  std::string out_;
};

// Runs the syncstream binary with `args` to its end, within a deadline.
RunResult RunTool(const std::vector<std::string>& args) {
  return Tool(args).Finish(::syncstream::Now() + absl::Seconds(30));
}

std::string NewDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/cli-", ::getpid(), "-",
                      file::RandomNonce() % 1000000);
}

std::unique_ptr<file::LineFileBuffer> OpenBuffer(const std::string& dir,
                                                 size_t maxlen) {
  file::LineFileBufferOptions options;
  options.maxlen = maxlen;
  auto buffer = file::LineFileBuffer::Open(dir, options);
  EXPECT_TRUE(buffer.ok()) << buffer.status();
  return buffer.ok() ? *std::move(buffer) : nullptr;
}

std::string NewBuffer(int lines, size_t maxlen = 100) {
  std::string dir = NewDir();
  auto buffer = OpenBuffer(dir, maxlen);
  for (int i = 0; i < lines; ++i) buffer->stream() << "line " << i << "\n";
  EXPECT_TRUE(buffer->Commit().ok());
  return dir;
}

// Commits `batches` segments of `lines` lines "BATCH:LINE" into `dir`.
void CommitBatches(const std::string& dir, size_t maxlen, int batches,
                   int lines) {
  auto buffer = OpenBuffer(dir, maxlen);
  for (int batch = 0; batch < batches; ++batch) {
    for (int i = 0; i < lines; ++i) {
      buffer->stream() << batch << ":" << i << "\n";
    }
    EXPECT_TRUE(buffer->Commit().ok());
  }
}

// XORs one byte of the file at `path`.
void FlipByte(const std::string& path, off_t offset) {
  UniqueFd fd(::open(path.c_str(), O_RDWR));
  ASSERT_TRUE(fd);
  char c;
  ASSERT_EQ(::pread(fd.get(), &c, 1, offset), 1);
  c ^= 0x5a;
  ASSERT_EQ(::pwrite(fd.get(), &c, 1, offset), 1);
}

std::vector<std::string> Lines(const std::string& out) {
  return absl::StrSplit(out, '\n', absl::SkipEmpty());
}

// The output's lines that are records (not "syncstream: ..." notices).
std::vector<std::string> RecordLines(const std::string& out) {
  std::vector<std::string> records;
  for (const std::string& line : Lines(out)) {
    if (!absl::StartsWith(line, "syncstream")) records.push_back(line);
  }
  return records;
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

// -n 0 is "all": every record the directory holds, not a fixed 65,536.
TEST(FileCommandsTest, TailZeroPrintsEveryRecordHeld) {
  constexpr int kLines = 70000;
  std::string dir = NewBuffer(kLines, kLines);
  RunResult r = RunTool({"file", "tail", dir, "-n", "0"});
  EXPECT_EQ(r.exit_code, 0);
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kLines));
  EXPECT_EQ(lines.front(), "line 0");
  EXPECT_EQ(lines.back(), absl::StrCat("line ", kLines - 1));
}

// A segment whose header is damaged (one byte of its generation) loses its
// records: tail says which segment and why, prints the others' lines, and
// exits 1.
TEST(FileCommandsTest, TailReportsASegmentWithADamagedHeaderAndFails) {
  std::string dir = NewDir();
  CommitBatches(dir, 1000, 3, 120);
  const std::string damaged = file::SegmentFileName(2);
  FlipByte(dir + "/" + damaged, 20);
  RunResult r = RunTool({"file", "tail", dir, "-n", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr(damaged + "': header checksum mismatch"));
  EXPECT_THAT(r.out, HasSubstr("unreadable"));
  std::vector<std::string> records = RecordLines(r.out);
  ASSERT_EQ(records.size(), 240u);
  EXPECT_EQ(records[119], "0:119");
  EXPECT_EQ(records[120], "2:0");
}

// inspect checks every frame: a damaged middle frame and a torn tail are
// shown (text and JSON), and the exit status says something is damaged.
TEST(FileCommandsTest, InspectShowsDamagedAndTornFrames) {
  std::string dir = NewDir();
  CommitBatches(dir, 1000, 2, 10);
  FlipByte(dir + "/" + file::SegmentFileName(1), file::kSegmentHeaderSize + 20);
  ASSERT_EQ(::truncate((dir + "/" + file::SegmentFileName(2)).c_str(),
                       file::kSegmentHeaderSize + 30),
            0);
  RunResult r = RunTool({"file", "inspect", dir});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("10 records from index 0, 9 readable"));
  EXPECT_THAT(r.out, HasSubstr("DAMAGED at offset 72"));
  EXPECT_THAT(r.out, HasSubstr("frame checksum mismatch"));
  EXPECT_THAT(r.out, HasSubstr("(torn tail)"));
  r = RunTool({"file", "inspect", dir, "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"valid_records\":9"));
  EXPECT_THAT(r.out, HasSubstr("\"damages\":[{\"offset\":72,"));
  EXPECT_THAT(r.out, HasSubstr("\"torn_tail\":true"));
}

// tail -f paused (SIGSTOP) while a writer commits 50 lines into a buffer
// of 10: 40 were rotated away before it could read them, and it says so.
TEST(FileCommandsTest, TailFollowSaysHowManyLinesWereRotatedAway) {
  std::string dir = NewBuffer(1, 10);
  Tool tail({"file", "tail", dir, "-f", "--file_follow_seconds=60"});
  const absl::Time deadline = ::syncstream::Now() + absl::Seconds(60);
  ASSERT_TRUE(tail.ReadUntil("line 0\n", deadline)) << tail.out();
  ASSERT_TRUE(tail.child().Kill(SIGSTOP).ok());
  CommitBatches(dir, 10, 5, 10);
  ASSERT_TRUE(tail.child().Kill(SIGCONT).ok());
  ASSERT_TRUE(tail.ReadUntil("4:9\n", deadline)) << tail.out();
  ASSERT_TRUE(tail.child().Kill(SIGTERM).ok());
  RunResult r = tail.Finish(deadline);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("40 lines rotated away before they were read"));
  std::vector<std::string> records = RecordLines(r.out);
  ASSERT_EQ(records.size(), 11u) << r.out;
  EXPECT_EQ(records[1], "4:0");
  EXPECT_EQ(records[10], "4:9");
}

// A FIFO named like the next segment and one named like the lock: tail and
// inspect finish at once, name the FIFO and go on with the rest; unlock
// removes the FIFO lock without --force.
TEST(FileCommandsTest, FifoNamedLikeASegmentOrTheLockHangsNothing) {
  std::string dir = NewBuffer(3);
  const std::string fifo = dir + "/" + file::SegmentFileName(2);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string lock = file::LineFileBuffer::LockPath(dir);
  ASSERT_EQ(::mkfifo(lock.c_str(), 0600), 0);
  RunResult r = RunTool({"file", "tail", dir, "-n", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("not a regular file (a FIFO)"));
  EXPECT_THAT(RecordLines(r.out),
              ::testing::ElementsAre("line 0", "line 1", "line 2"));
  r = RunTool({"file", "inspect", dir});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr(file::SegmentFileName(2)));
  EXPECT_THAT(r.out, HasSubstr("not a regular file (a FIFO)"));
  EXPECT_THAT(r.out, HasSubstr("3 records from index 0"));
  EXPECT_THAT(r.out, HasSubstr("STALE: not a lock file"));
  r = RunTool({"file", "unlock", dir});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  struct stat st;
  EXPECT_NE(::lstat(lock.c_str(), &st), 0);
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
