#include "syncstream/file/lock_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/deadline.h"

namespace syncstream::file {
namespace {

std::string TempLockPath(const char* name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/", name, "-", ::getpid(), "-",
                      RandomNonce() % 100000);
}

TEST(LockFileTest, HolderRoundTripsAndRejectsDamage) {
  LockHolder h;
  h.host = "node\n7";
  h.pid = 1234;
  h.boot_id = "boot";
  h.nonce = 0x1122334455667788ull;
  h.generation = 9;
  h.acquired = absl::FromUnixSeconds(1000);
  h.heartbeat = absl::FromUnixSeconds(1001);
  h.heartbeat_count = 3;
  h.lease = absl::Seconds(2);
  std::string bytes = EncodeLockHolder(h);
  EXPECT_EQ(bytes.size(), kLockFileSize);
  auto back = DecodeLockHolder(bytes, "l");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->host, "node_7");
  EXPECT_EQ(back->pid, 1234);
  EXPECT_EQ(back->nonce, h.nonce);
  EXPECT_EQ(back->generation, 9u);
  EXPECT_EQ(back->heartbeat, h.heartbeat);
  EXPECT_EQ(back->lease, h.lease);
  bytes[30] ^= 1;
  EXPECT_FALSE(DecodeLockHolder(bytes, "l").ok());
  EXPECT_FALSE(DecodeLockHolder("", "l").ok());
}

TEST(LockFileTest, ExclusiveUntilReleased) {
  std::string path = TempLockPath("lock");
  LockFile a(path, {"host-a", absl::Seconds(5)});
  LockFile b(path, {"host-b", absl::Seconds(5)});
  auto held = a.Acquire(absl::Seconds(1));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_FALSE((*held)->took_over());
  auto blocked = b.Acquire(absl::Milliseconds(50));
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(blocked.status().message().find("host-a"), std::string::npos);
  LockState state = LockFile::Inspect(path);
  EXPECT_TRUE(state.present && state.readable);
  EXPECT_FALSE(state.stale);
  EXPECT_EQ(state.holder.host, "host-a");
  EXPECT_EQ(LockFile::Break(path, false).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*held)->Verify().ok());
  ASSERT_TRUE((*held)->Release().ok());
  auto second = b.Acquire(absl::Seconds(1));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(LockFile::Inspect(path + ".none").present);
}

TEST(LockFileTest, StaleLockIsTakenOverAfterLease) {
  std::string path = TempLockPath("stale");
  // A holder that died: a lock whose heartbeat stopped long ago.
  LockHolder dead;
  dead.host = "gone-host";
  dead.pid = 1;
  dead.nonce = 5;
  dead.heartbeat = ::syncstream::Now() - absl::Seconds(10);
  dead.acquired = dead.heartbeat;
  dead.lease = absl::Milliseconds(200);
  {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0);
    std::string bytes = EncodeLockHolder(dead);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  EXPECT_TRUE(LockFile::Inspect(path).stale);
  LockFile taker(path, {"taker", absl::Milliseconds(200)});
  auto held = taker.Acquire(absl::Seconds(5));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_TRUE((*held)->took_over());
  EXPECT_EQ((*held)->previous_holder().host, "gone-host");
  EXPECT_EQ(LockFile::Inspect(path).holder.host, "taker");
}

TEST(LockFileTest, EmptyLockFileIsTakenOverAfterObservedLease) {
  std::string path = TempLockPath("empty");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0);
  ::close(fd);
  LockFile taker(path, {"taker", absl::Milliseconds(100)});
  auto held = taker.Acquire(absl::Seconds(5));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_TRUE((*held)->took_over());
}

TEST(LockFileTest, LiveHolderRenewsAndIsNotTakenOver) {
  std::string path = TempLockPath("live");
  LockFile a(path, {"a", absl::Milliseconds(100)});
  LockFile b(path, {"b", absl::Milliseconds(100)});
  auto held = a.Acquire(absl::Seconds(1));
  ASSERT_TRUE(held.ok());
  // Several leases long: the renewer keeps it fresh.
  auto blocked = b.Acquire(absl::Milliseconds(500));
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE((*held)->Verify().ok());
  EXPECT_GT((*held)->holder().heartbeat_count, 0u);
}

// The "holder's process is gone" rule compares the holder's host id with the
// one this process writes into its locks (configured, as tests and
// containers set it), not with the hostname: a holder killed on this host
// is taken over at once, not after its whole (here 30 s) lease.
TEST(LockFileTest, KilledHolderWithACustomHostIdIsTakenOverAtOnce) {
  std::string path = TempLockPath("custom-host");
  const LockFileOptions options{"custom-host", absl::Seconds(30)};
  auto child = ChildProcess::Fork([path, options] {
    LockFile lock(path, options);
    auto held = lock.Acquire(absl::Seconds(5));
    if (!held.ok()) return 2;
    held->release();  // dies holding it
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  auto status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(status->success()) << status->ToString();
  EXPECT_FALSE(LockFile::Inspect(path, "another-host").stale);
  LockState state = LockFile::Inspect(path, "custom-host");
  EXPECT_TRUE(state.stale);
  EXPECT_NE(state.stale_reason.find("is gone"), std::string::npos)
      << state.stale_reason;
  LockFile taker(path, options);
  auto held = taker.Acquire(absl::Seconds(5));  // well within the lease
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_TRUE((*held)->took_over());
  EXPECT_EQ((*held)->previous_holder().pid, child->pid());
}

// A FIFO where the lock should be never blocks: it is no lock, inspected as
// stale, and replaced like a damaged lock once it sat unchanged a lease.
TEST(LockFileTest, FifoAtTheLockPathIsReplacedNotWaitedOn) {
  std::string path = TempLockPath("fifo");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  LockState state = LockFile::Inspect(path);
  EXPECT_TRUE(state.present);
  EXPECT_FALSE(state.readable);
  EXPECT_TRUE(state.stale);
  EXPECT_NE(state.problem.find("not a regular file (a FIFO)"),
            std::string::npos) << state.problem;
  LockFile taker(path, {"taker", absl::Milliseconds(100)});
  auto held = taker.Acquire(absl::Seconds(10));
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_TRUE((*held)->took_over());
  struct stat st;
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

}  // namespace
}  // namespace syncstream::file
