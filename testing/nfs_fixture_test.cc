// Checks the claims nfs_fixture.h makes about its two modes, so the file
// buffer's tests run on the file systems they think they run on.
#include "testing/nfs_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/core/deadline.h"

namespace syncstream::testing {
namespace {

class NfsFixtureTest : public ::testing::TestWithParam<SharedDiskMode> {
 protected:
  void SetUp() override {
    std::string reason = SharedDiskFixture::UnavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    auto fixture = SharedDiskFixture::Create(GetParam(), 2);
    ASSERT_TRUE(fixture.ok()) << fixture.status();
    fixture_ = *std::move(fixture);
  }
  std::string At(int host, const char* name) {
    return fixture_->host_dir(host) + "/" + name;
  }
  std::unique_ptr<SharedDiskFixture> fixture_;
};

TEST_P(NfsFixtureTest, ExclusiveCreateFailsAcrossViews) {
  UniqueFd a(::open(At(0, "lock").c_str(), O_RDWR | O_CREAT | O_EXCL, 0644));
  ASSERT_TRUE(a.valid()) << std::strerror(errno);
  UniqueFd b(::open(At(1, "lock").c_str(), O_RDWR | O_CREAT | O_EXCL, 0644));
  EXPECT_FALSE(b.valid());
  EXPECT_EQ(errno, EEXIST);
}

TEST_P(NfsFixtureTest, FreshOpenShowsCurrentContent) {
  UniqueFd a(::open(At(0, "f").c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_TRUE(a.valid());
  ASSERT_EQ(::pwrite(a.get(), "0000", 4, 0), 4);
  char buf[4];
  {
    UniqueFd b(::open(At(1, "f").c_str(), O_RDONLY));
    ASSERT_EQ(::pread(b.get(), buf, 4, 0), 4);
    EXPECT_EQ(std::string(buf, 4), "0000");
  }
  ASSERT_EQ(::pwrite(a.get(), "1111", 4, 0), 4);
  UniqueFd b(::open(At(1, "f").c_str(), O_RDONLY));
  ASSERT_EQ(::pread(b.get(), buf, 4, 0), 4);
  EXPECT_EQ(std::string(buf, 4), "1111");
}

TEST_P(NfsFixtureTest, OfdLocksAreSharedOnlyWhenCoherent) {
  UniqueFd a(::open(At(0, "l").c_str(), O_RDWR | O_CREAT, 0644));
  UniqueFd b(::open(At(1, "l").c_str(), O_RDWR));
  ASSERT_TRUE(a.valid() && b.valid());
  struct flock lk = {};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;
  ASSERT_EQ(::fcntl(a.get(), F_OFD_SETLK, &lk), 0) << std::strerror(errno);
  struct flock lk2 = {};
  lk2.l_type = F_WRLCK;
  lk2.l_whence = SEEK_SET;
  int second = ::fcntl(b.get(), F_OFD_SETLK, &lk2);
  if (GetParam() == SharedDiskMode::kCoherent) {
    EXPECT_EQ(second, -1) << "a coherent view must see the other view's lock";
  } else {
    EXPECT_EQ(second, 0) << "plain bindfs is expected not to share locks";
  }
}

TEST_P(NfsFixtureTest, SizesAreCachedOnlyWhenMisbehaving) {
  UniqueFd a(::open(At(0, "s").c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_TRUE(a.valid());
  ASSERT_EQ(::write(a.get(), "12345678", 8), 8);
  struct stat st;
  const absl::Time primed = ::syncstream::Now();
  ASSERT_EQ(::stat(At(1, "s").c_str(), &st), 0);
  ASSERT_EQ(st.st_size, 8);
  ASSERT_EQ(::write(a.get(), "12345678", 8), 8);
  ASSERT_EQ(::stat(At(1, "s").c_str(), &st), 0);
  if (GetParam() == SharedDiskMode::kCoherent) {
    EXPECT_EQ(st.st_size, 16);
  } else if (::syncstream::Now() - primed < absl::Milliseconds(500)) {
    // Within the 1 s attribute timeout the other view still reports 8.
    EXPECT_EQ(st.st_size, 8) << "plain bindfs is expected to cache sizes";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, NfsFixtureTest,
    ::testing::Values(SharedDiskMode::kCoherent, SharedDiskMode::kMisbehaving),
    [](const auto& info) { return std::string(SharedDiskModeName(info.param)); });

}  // namespace
}  // namespace syncstream::testing
