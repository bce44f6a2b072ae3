// LineFileBuffer across simulated hosts sharing one directory through FUSE
// views (testing/nfs_fixture.h), coherent and misbehaving: many writers,
// a holder killed with the lock, a holder paused past its lease.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/file/line_file_buffer.h"
#include "testing/nfs_fixture.h"

namespace syncstream::file {
namespace {

using ::syncstream::testing::SharedDiskFixture;
using ::syncstream::testing::SharedDiskMode;

// Lines per writer: modest by default; the manual target raises it to 50k.
int LinesPerWriter() {
  const char* env = std::getenv("SYNCSTREAM_FILE_LINES_PER_WRITER");
  int n = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &n) && n > 0) return n;
  return 5000;
}

std::string LineText(int writer, int i) {
  return absl::StrCat("w", writer, " line ", i, " payload-", writer * 1000003 + i);
}

// Forks `body` into a child process (the test fails if fork fails).
ChildProcess ForkOrDie(std::function<int()> body) {
  auto child = ChildProcess::Fork(std::move(body));
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? *std::move(child) : ChildProcess();
}

// Waits for `child` and expects exit status 0.
void ExpectSuccess(ChildProcess& child, absl::Duration timeout,
                   const char* what = "") {
  auto status = child.Wait(timeout);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->success()) << status->ToString() << what;
}

class SharedDiskTest : public ::testing::TestWithParam<SharedDiskMode> {
 protected:
  void SetUp() override {
    std::string reason = SharedDiskFixture::UnavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    auto fixture = SharedDiskFixture::Create(GetParam(), 4);
    ASSERT_TRUE(fixture.ok()) << fixture.status();
    fixture_ = *std::move(fixture);
  }
  std::string BufferOn(int host) { return fixture_->host_dir(host) + "/buf"; }

  LineFileBufferOptions Options(int host, size_t maxlen,
                                absl::Duration lease = absl::Seconds(2)) {
    LineFileBufferOptions options;
    options.maxlen = maxlen;
    options.host_id = absl::StrCat("host", host);
    options.writer.name = absl::StrCat("w", host);
    options.lease = lease;
    options.lock_timeout = absl::Seconds(20);
    return options;
  }

  // Every line of writer w (0..count-1) present exactly once, in order,
  // whole; returns how many records each sender had.
  void ExpectWritersComplete(const std::vector<Record>& records,
                             const std::map<int, int>& expected) {
    std::map<int, int> next;
    for (const Record& r : records) {
      ASSERT_TRUE(r.is_line()) << FormatRecord(r);
      ASSERT_EQ(r.sender.size(), 2u) << r.sender;
      int w = r.sender[1] - '0';
      ASSERT_TRUE(expected.count(w)) << "unexpected sender " << r.sender;
      ASSERT_EQ(r.text, LineText(w, next[w]))
          << "writer " << w << " out of order, duplicated or torn";
      ++next[w];
    }
    for (const auto& [w, count] : expected) {
      EXPECT_EQ(next[w], count) << "writer " << w;
    }
  }

  std::unique_ptr<SharedDiskFixture> fixture_;
};

TEST_P(SharedDiskTest, FourHostsEveryLineOnceInOrder) {
  const int n = LinesPerWriter();
  const size_t maxlen = 4 * n;
  std::vector<ChildProcess> writers;
  for (int w = 0; w < 4; ++w) {
    writers.push_back(ForkOrDie([&, w] {
      auto buffer = LineFileBuffer::Open(BufferOn(w), Options(w, maxlen));
      if (!buffer.ok()) return 2;
      for (int i = 0; i < n; ++i) (*buffer)->stream() << LineText(w, i) << '\n';
      return (*buffer)->Commit().ok() ? 0 : 3;
    }));
  }
  for (ChildProcess& child : writers) ExpectSuccess(child, absl::Seconds(120));
  auto reader = LineFileBuffer::Open(BufferOn(1), Options(1, maxlen));
  ASSERT_TRUE(reader.ok());
  ReadReport report;
  auto records = (*reader)->Read(maxlen, &report);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_TRUE(report.damages.empty());
  EXPECT_EQ(records->size(), maxlen);
  ExpectWritersComplete(*records, {{0, n}, {1, n}, {2, n}, {3, n}});
}

// Reads one byte from `fd` within `timeout`.
bool AwaitByte(int fd, absl::Duration timeout) {
  struct pollfd p = {fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) != 1) {
    return false;
  }
  char c;
  return ::read(fd, &c, 1) == 1;
}

TEST_P(SharedDiskTest, KilledHolderIsTakenOverNoCommittedLineLost) {
  const absl::Duration lease = absl::Milliseconds(300);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  UniqueFd signal_read(pipe_fds[0]), signal_write(pipe_fds[1]);
  ChildProcess victim = ForkOrDie([&] {
    LineFileBufferOptions options = Options(0, 10000, lease);
    int links = 0;
    options.before_link_for_testing = [&] {
      if (++links == 2) {
        // Holding the lock, about to commit the second batch: announce it
        // and wait to be killed.
        (void)!::write(signal_write.get(), "L", 1);
        while (true) ::pause();
      }
    };
    auto buffer = LineFileBuffer::Open(BufferOn(0), options);
    if (!buffer.ok()) return 2;
    for (int i = 0; i < 100; ++i) (*buffer)->stream() << LineText(0, i) << '\n';
    if (!(*buffer)->Commit().ok()) return 3;
    for (int i = 100; i < 200; ++i) (*buffer)->stream() << LineText(0, i) << '\n';
    (*buffer)->Commit().IgnoreError();
    return 4;
  });
  ASSERT_TRUE(AwaitByte(signal_read.get(), absl::Seconds(20)));
  ASSERT_TRUE(victim.Kill(SIGKILL).ok());
  auto killed = victim.Wait(absl::Seconds(10));
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_TRUE(killed->signaled) << killed->ToString();
  // The lock file is left behind, naming the dead holder.
  LockState held = LockFile::Inspect(LineFileBuffer::LockPath(BufferOn(1)));
  EXPECT_TRUE(held.present);
  EXPECT_EQ(held.holder.host, "host0");

  std::vector<ChildProcess> others;
  for (int w = 1; w <= 2; ++w) {
    others.push_back(ForkOrDie([&, w] {
      auto buffer = LineFileBuffer::Open(BufferOn(w), Options(w, 10000, lease));
      if (!buffer.ok()) return 2;
      for (int i = 0; i < 1000; ++i) (*buffer)->stream() << LineText(w, i) << '\n';
      return (*buffer)->Commit().ok() ? 0 : 3;
    }));
  }
  for (ChildProcess& child : others) ExpectSuccess(child, absl::Seconds(60));
  auto reader = LineFileBuffer::Open(BufferOn(3), Options(3, 10000, lease));
  ASSERT_TRUE(reader.ok());
  ReadReport report;
  auto records = (*reader)->Read(10000, &report);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(report.damages.empty());
  // The victim's committed batch survives; its uncommitted one is absent.
  ExpectWritersComplete(*records, {{0, 100}, {1, 1000}, {2, 1000}});
}

TEST_P(SharedDiskTest, PausedHolderIsFencedAfterItsLease) {
  const absl::Duration lease = absl::Milliseconds(300);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  UniqueFd signal_read(pipe_fds[0]), signal_write(pipe_fds[1]);
  ChildProcess paused = ForkOrDie([&] {
    LineFileBufferOptions options = Options(0, 10000, lease);
    int links = 0;
    options.before_link_for_testing = [&] {
      if (++links == 2) {
        // Past every check, about to link: stop here.
        (void)!::write(signal_write.get(), "L", 1);
        ::raise(SIGSTOP);
      }
    };
    auto buffer = LineFileBuffer::Open(BufferOn(0), options);
    if (!buffer.ok()) return 2;
    for (int i = 0; i < 50; ++i) (*buffer)->stream() << LineText(0, i) << '\n';
    if (!(*buffer)->Commit().ok()) return 3;
    for (int i = 50; i < 100; ++i) (*buffer)->stream() << LineText(0, i) << '\n';
    absl::Status late = (*buffer)->Commit();
    if (late.code() != absl::StatusCode::kAborted ||
        late.message().find("fenced") == std::string::npos) {
      return 4;  // the late write was not refused
    }
    // The refused records stay queued: committed under a fresh lock.
    return (*buffer)->Commit().ok() ? 0 : 5;
  });
  ASSERT_TRUE(AwaitByte(signal_read.get(), absl::Seconds(20)));
  ChildProcess other = ForkOrDie([&] {
    auto buffer = LineFileBuffer::Open(BufferOn(1), Options(1, 10000, lease));
    if (!buffer.ok()) return 2;
    for (int i = 0; i < 500; ++i) (*buffer)->stream() << LineText(1, i) << '\n';
    return (*buffer)->Commit().ok() ? 0 : 3;
  });
  ExpectSuccess(other, absl::Seconds(60));
  ASSERT_TRUE(paused.Kill(SIGCONT).ok());
  ExpectSuccess(paused, absl::Seconds(60), " (status 4: late write not refused)");

  auto reader = LineFileBuffer::Open(BufferOn(2), Options(2, 10000, lease));
  ASSERT_TRUE(reader.ok());
  ReadReport report;
  auto records = (*reader)->Read(10000, &report);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(report.damages.empty());
  EXPECT_TRUE(report.unreadable_segments.empty());
  ExpectWritersComplete(*records, {{0, 100}, {1, 500}});
  // The refused batch came after the other writer's lines.
  ASSERT_EQ(records->size(), 600u);
  EXPECT_EQ(records->back().text, LineText(0, 99));
}

INSTANTIATE_TEST_SUITE_P(
    Mounts, SharedDiskTest,
    ::testing::Values(SharedDiskMode::kCoherent, SharedDiskMode::kMisbehaving),
    [](const auto& info) {
      return std::string(testing::SharedDiskModeName(info.param));
    });

}  // namespace
}  // namespace syncstream::file
