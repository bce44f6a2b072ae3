#include "syncstream/core/fd_capture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "syncstream/core/testing/recording_writer.h"
#include "syncstream/core/deadline.h"

namespace syncstream {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testutil::RecordingWriter;

// Identity of what an fd points at, to check that it was restored.
std::pair<dev_t, ino_t> FileOf(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return {0, 0};
  return {st.st_dev, st.st_ino};
}

// Waits for `pid` to exit, at most `timeout`; returns its wait status, or -1
// after killing it when the timeout passed.
int WaitChild(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = ::syncstream::Now() + timeout;
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return -1;
    if (::syncstream::Now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
}

// fork + exec of `/bin/sh -c command`; the child inherits every fd without
// close-on-exec, the captured ones included.
pid_t StartShell(const std::string& command) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

TEST(FdCaptureTest, PrintfLinesAndTheFinalPartialLineAreCaptured) {
  RecordingWriter writer;
  auto before = FileOf(1);
  absl::StatusOr<ScopedFdCapture> capture =
      ScopedFdCapture::Create(writer, CaptureStreams::kStdout);
  ASSERT_TRUE(capture.ok()) << capture.status();
  EXPECT_TRUE(capture->active());
  EXPECT_NE(FileOf(1), before);
  std::printf("hello %d\n", 1);
  std::printf("two ");
  std::printf("parts\n");
  std::printf("no newline at the end");
  ASSERT_TRUE(capture->Stop().ok());
  EXPECT_FALSE(capture->active());
  EXPECT_EQ(FileOf(1), before);
  EXPECT_THAT(writer.LinesOf("stdout"),
              ElementsAre("hello 1", "two parts", "no newline at the end"));
  EXPECT_THAT(writer.PendingLines(), IsEmpty());
  ASSERT_TRUE(capture->Stop().ok());  // idempotent
}

TEST(FdCaptureTest, StdoutAndStderrAreSeparateWriters) {
  RecordingWriter writer;
  auto out_before = FileOf(1);
  auto err_before = FileOf(2);
  {
    absl::StatusOr<ScopedFdCapture> capture = ScopedFdCapture::Create(writer);
    ASSERT_TRUE(capture.ok()) << capture.status();
    std::printf("out: begun ");
    std::fprintf(stderr, "err: whole line\n");
    ASSERT_EQ(::write(2, "raw write\n", 10), 10);
    std::cout << "ended" << std::endl;
    std::cerr << "from cerr\n";
  }  // the destructor stops
  EXPECT_EQ(FileOf(1), out_before);
  EXPECT_EQ(FileOf(2), err_before);
  EXPECT_THAT(writer.LinesOf("stdout"), ElementsAre("out: begun ended"));
  EXPECT_THAT(writer.LinesOf("stderr"),
              ElementsAre("err: whole line", "raw write", "from cerr"));
}

TEST(FdCaptureTest, ChildProgramInheritingTheFdIsCaptured) {
  RecordingWriter writer;
  FdCaptureOptions options;
  options.type = "child";
  absl::StatusOr<ScopedFdCapture> capture =
      ScopedFdCapture::Create(writer, CaptureStreams::kStdoutAndStderr, options);
  ASSERT_TRUE(capture.ok()) << capture.status();
  pid_t pid = StartShell(
      "echo 'from sh'; echo 'to stderr' >&2; printf 'a partial line'");
  ASSERT_GT(pid, 0);
  int status = WaitChild(pid, absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(capture->Stop().ok());
  EXPECT_THAT(writer.LinesOf("stdout"),
              ElementsAre("from sh", "a partial line"));
  EXPECT_THAT(writer.LinesOf("stderr"), ElementsAre("to stderr"));
  for (const Record& r : writer.records()) EXPECT_EQ(r.type, "child");
}

TEST(FdCaptureTest, ChildStillHoldingTheFdMakesTheDrainTimeOutNotHang) {
  RecordingWriter writer;
  FdCaptureOptions options;
  options.drain_timeout = absl::Milliseconds(200);
  absl::StatusOr<ScopedFdCapture> capture =
      ScopedFdCapture::Create(writer, CaptureStreams::kStdout, options);
  ASSERT_TRUE(capture.ok()) << capture.status();
  // The shell writes a line, then becomes `sleep`, which keeps fd 1 open.
  pid_t pid = StartShell("echo early; exec sleep 60");
  ASSERT_GT(pid, 0);
  std::printf("from the parent\n");
  std::fflush(stdout);
  // Wait (bounded) until the child's line has reached the pipe.
  absl::Time deadline = ::syncstream::Now() + absl::Seconds(30);
  while (writer.LinesOf("stdout").size() < 2 && ::syncstream::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  absl::Time stop_began = ::syncstream::Now();
  absl::Status stopped = capture->Stop();
  absl::Duration stop_took = ::syncstream::Now() - stop_began;
  ::kill(pid, SIGKILL);
  WaitChild(pid, absl::Seconds(30));
  EXPECT_EQ(stopped.code(), absl::StatusCode::kDeadlineExceeded) << stopped;
  EXPECT_THAT(std::string(stopped.message()),
              HasSubstr("fd capture of fd 1 ('stdout')"));
  EXPECT_LT(stop_took, absl::Seconds(20));  // bounded, not a hang
  std::vector<std::string> lines = writer.LinesOf("stdout");
  std::sort(lines.begin(), lines.end());
  EXPECT_THAT(lines, ElementsAre("early", "from the parent"));
}

TEST(FdCaptureTest, OutputBeyondThePipeCapacityIsCapturedWholeAndInOrder) {
  RecordingWriter writer;
  absl::StatusOr<ScopedFdCapture> capture =
      ScopedFdCapture::Create(writer, CaptureStreams::kStdout);
  ASSERT_TRUE(capture.ok()) << capture.status();
  // About 6 MB written with raw write()s whose boundaries fall inside lines.
  const int kLines = 60000;
  std::string all;
  for (int i = 0; i < kLines; ++i) {
    absl::StrAppend(&all, "line ", i, " ", std::string(80, 'a' + i % 26), "\n");
  }
  for (size_t at = 0; at < all.size();) {
    size_t chunk = std::min<size_t>(7777, all.size() - at);
    ssize_t wrote = ::write(1, all.data() + at, chunk);
    ASSERT_GT(wrote, 0);
    at += static_cast<size_t>(wrote);
  }
  ASSERT_TRUE(capture->Stop().ok());
  std::vector<std::string> lines = writer.LinesOf("stdout");
  ASSERT_EQ(lines.size(), static_cast<size_t>(kLines));
  for (int i = 0; i < kLines; ++i) {
    ASSERT_EQ(lines[i],
              absl::StrCat("line ", i, " ", std::string(80, 'a' + i % 26)));
  }
}

TEST(FdCaptureTest, WorksInAForkedChild) {
  // The child creates and stops a capture of its own, checks the records and
  // reports through its exit status (0: all good).
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    {
      RecordingWriter writer;
      absl::StatusOr<ScopedFdCapture> capture =
          ScopedFdCapture::Create(writer, CaptureStreams::kStdout);
      if (!capture.ok()) ::_exit(10);
      std::printf("child line 1\nchild line 2\n");
      if (!capture->Stop().ok()) code = 11;
      std::vector<std::string> lines = writer.LinesOf("stdout");
      if (lines != std::vector<std::string>{"child line 1", "child line 2"}) {
        code = 12;
      }
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  int status = WaitChild(pid, absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(FdCaptureTest, ChildForkedDuringACaptureFeedsTheParentsCapture) {
  RecordingWriter writer;
  absl::StatusOr<ScopedFdCapture> capture =
      ScopedFdCapture::Create(writer, CaptureStreams::kStdout);
  ASSERT_TRUE(capture.ok()) << capture.status();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::printf("from the forked child\n");
    std::fflush(stdout);
    // The child's copy of the capture: stopping it must neither hang nor
    // touch the parent's capture.
    int code = capture->Stop().ok() && !capture->active() ? 0 : 1;
    ::_exit(code);
  }
  int status = WaitChild(pid, absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(capture->Stop().ok());
  EXPECT_THAT(writer.LinesOf("stdout"), ElementsAre("from the forked child"));
}

TEST(FdCaptureTest, AnyFdCanBeCapturedUnderAnyName) {
  int ends[2];
  ASSERT_EQ(::pipe(ends), 0);
  RecordingWriter writer;
  {
    absl::StatusOr<ScopedFdCapture> capture =
        ScopedFdCapture::CreateForFds(writer, {{ends[1], "my pipe"}});
    ASSERT_TRUE(capture.ok()) << capture.status();
    ASSERT_EQ(::write(ends[1], "via my fd\n", 10), 10);
  }
  // Restored: the fd is our pipe's write end again.
  ASSERT_EQ(::write(ends[1], "z", 1), 1);
  char byte = 0;
  ASSERT_EQ(::read(ends[0], &byte, 1), 1);
  EXPECT_EQ(byte, 'z');
  ::close(ends[0]);
  ::close(ends[1]);
  EXPECT_THAT(writer.LinesOf("my pipe"), ElementsAre("via my fd"));
}

TEST(FdCaptureTest, MovedCaptureKeepsCapturing) {
  RecordingWriter writer;
  absl::StatusOr<ScopedFdCapture> created =
      ScopedFdCapture::Create(writer, CaptureStreams::kStdout);
  ASSERT_TRUE(created.ok()) << created.status();
  ScopedFdCapture capture = *std::move(created);
  EXPECT_FALSE(created->active());
  std::printf("after the move\n");
  ScopedFdCapture other = std::move(capture);
  EXPECT_FALSE(capture.active());
  EXPECT_TRUE(other.active());
  ASSERT_TRUE(other.Stop().ok());
  EXPECT_THAT(writer.LinesOf("stdout"), ElementsAre("after the move"));
}

TEST(FdCaptureTest, InvalidArgumentsAreStatusesAndLeaveFdsAlone) {
  RecordingWriter writer;
  auto before = FileOf(1);
  absl::StatusOr<ScopedFdCapture> none = ScopedFdCapture::CreateForFds(writer, {});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<ScopedFdCapture> negative =
      ScopedFdCapture::CreateForFds(writer, {{-1, "bad"}});
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(negative.status().message()),
              HasSubstr("invalid fd -1"));

  absl::StatusOr<ScopedFdCapture> twice =
      ScopedFdCapture::CreateForFds(writer, {{1, "a"}, {1, "b"}});
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(twice.status().message()),
              HasSubstr("fd 1 listed twice"));

  int closed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(closed, 0);
  ::close(closed);
  absl::StatusOr<ScopedFdCapture> not_open =
      ScopedFdCapture::CreateForFds(writer, {{1, "stdout"}, {closed, "gone"}});
  EXPECT_EQ(not_open.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(not_open.status().message()),
              HasSubstr(absl::StrCat("fd ", closed, " ('gone') is not open")));
  EXPECT_EQ(FileOf(1), before);
  EXPECT_THAT(writer.records(), IsEmpty());
}

}  // namespace
}  // namespace syncstream
